"""Process ``affiliation``: the yearly membership of the coop (PROCESSES.md §7)."""
