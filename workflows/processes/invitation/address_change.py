"""When a mandataire's address changes before their account is set up (the import, the
coop's edit form, « Corriger l'email puis renvoyer »): the links that went to the old
address stop working, and an invitation whose link went out is sent to the new one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflows.links import revoke_links
from workflows.processes.invitation.definition import BOUNCED, EXPIRED, INVITED, PROCESS

if TYPE_CHECKING:
    from workflows.engine.actor import Actor
    from workflows.engine.unit_of_work import UnitOfWork
    from workflows.models import Case, Mandataire

#: Invitation states whose link went out: an address change sends a new one.
RESENDABLE = (INVITED, EXPIRED, BOUNCED)


def resend_to_new_address(
    tx: UnitOfWork,
    case: Case | None,
    person: Mandataire,
    *,
    actor: Actor,
    comment: str,
    payload: dict[str, str] | None = None,
) -> bool:
    """Revoke ``person``'s invitation links and, if ``case`` (their invitation) sent one,
    send it again to their current address. Returns whether it is resent."""
    revoke_links(tx.session, mandataire_id=person.id, purpose=PROCESS, now=tx.now)
    if case is None or case.process != PROCESS or case.state not in RESENDABLE:
        return False
    tx.fire(case.id, "resend", actor=actor, comment=comment, payload=payload)
    return True
