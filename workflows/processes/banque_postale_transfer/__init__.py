"""Process ``banque_postale_transfer``: the old balance moved from La Banque Postale."""
