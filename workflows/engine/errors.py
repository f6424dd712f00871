"""Errors of the domain and the engine, under one base class.

Messages of errors users can meet are in French: the web shows them as they are.
"""

from __future__ import annotations

from datetime import timedelta


class CoopflowError(Exception):
    """Base of every error coopflow raises on purpose."""


class DefinitionError(CoopflowError):
    """Definitions, or the registries of the layers, do not agree (found at start)."""


class ConflictError(CoopflowError):
    """The case is not (any more) where the caller thought: the web answers 409."""


class TransitionNotAllowed(ConflictError):
    """The trigger cannot fire from the case's current state."""


class VersionConflict(ConflictError):
    """Someone else changed the case since the caller read it."""


class GuardFailed(ConflictError):
    """A guard of the transition does not hold; the message says which and why."""


class CaseNotFound(CoopflowError):
    """No case with this id."""


class ValidationError(CoopflowError):
    """Input refused; ``errors`` lists one French sentence per problem."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))


class SelectionRefused(ValidationError):
    """A bulk action's selection holds cases its author may not act on: nothing is created."""


class BulkJobNotFound(CoopflowError):
    """No bulk job with this id for this staff member."""


class StepError(CoopflowError):
    """Base of the errors a step handler raises."""


class PermanentStepError(StepError):
    """Retrying cannot help (bad data, refused by the provider): fail the step now."""


class TransientStepError(StepError):
    """Temporary trouble (timeout, provider down): retry with backoff."""


class StepPostponed(TransientStepError):
    """Not a failure: the step waits for something outside (a provider's report) and
    runs again after ``delay`` without using one of its attempts. The message (French)
    is shown on the step while it waits."""

    def __init__(self, message: str, delay: timedelta) -> None:
        super().__init__(message)
        self.delay = delay
