"""Process ``space_check``: « Vérification de l'espace » (seed 000, step 3)."""
