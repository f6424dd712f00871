"""Process ``iban``: the coop's bank details (RIB) and the checks they go through."""
