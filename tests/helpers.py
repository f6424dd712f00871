"""Small helpers of the test suite: forms' CSRF tokens, links in emails, invitations."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflows.engine.engine import Engine
    from workflows.models import AD, Mandataire

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_LINK = re.compile(r"https?://\S+/invitation/\S+")


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def invitation_link(message: EmailMessage) -> str:
    match = _LINK.search(text_body(message))
    assert match, "no invitation link in the email"
    return match.group(0)


def start_invitation(engine: Engine, ad: AD) -> tuple[int, int, Mandataire]:
    """A new mandataire of a new coop of ``ad``, invited: the case, its step, the person."""
    from sqlalchemy import select

    from tests.factories import MandataireFactory
    from workflows.engine.engine import Actor
    from workflows.models import Step

    mandataire = MandataireFactory(coop__ad=ad)
    with engine.transaction() as tx:
        case = tx.start(
            "invitation",
            mandataire.coop_id,
            actor=Actor.system("test"),
            data={"mandataire_id": mandataire.id},
            trigger="invite",
        )
        case_id = case.id
    with engine.db.read() as session:
        step_id = session.scalars(select(Step.id).where(Step.case_id == case_id)).one()
    return case_id, step_id, mandataire
