"""Step handlers by (process, step name). Each is idempotent and returns an Outcome.

A kind of step whose runs share work (reading their rows, storing their emails) has a
handler made by ``workers.context.batched``: the runner gives its batch handler the
steps of that kind a message carries together."""

from __future__ import annotations

from collections.abc import Callable

from workers.context import StepContext
from workers.handlers import invitation, notifications, space_check
from workflows.steps import Outcome

Handler = Callable[[StepContext], Outcome]

HANDLERS: dict[tuple[str, str], Handler] = {
    ("invitation", "send_invitation"): invitation.send_invitation,
    ("invitation", "send_reminder"): invitation.send_reminder,
    ("invitation", "send_password_reset"): invitation.send_password_reset,
    ("space_check", "notify_mandataire"): notifications.notify_mandataire,
    ("space_check", "render_space_summary"): space_check.render_space_summary,
}
