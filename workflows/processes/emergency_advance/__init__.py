"""Process ``emergency_advance``: an advance while the Banque Postale transfer is pending."""
