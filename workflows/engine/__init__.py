"""The generic engine, apart from the domain: definitions as data, the unit of work of
one transaction (lock, guards, audit, outbox steps), steps, timers, the scheduler's
tick, cross-process rules, bulk actions, the clock, the database and the errors.

Nothing here knows a process by name: the processes are in :mod:`workflows.processes`.
"""
