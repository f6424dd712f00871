"""Process 1, ``invitation``: account invitation and password setup (PROCESSES.md §1)."""
