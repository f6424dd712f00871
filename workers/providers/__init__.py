"""Adapters of the outside systems, one package per provider: its interface, sandbox,
real client and errors (permanent or retryable)."""
