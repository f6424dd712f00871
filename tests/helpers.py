"""Small helpers of the test suite: forms' CSRF tokens, links in emails, invitations,
and the rows (emails, documents, tasks) a page under test shows."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import select

from tests.factories import MandataireFactory
from workflows.engine.engine import Actor
from workflows.models import Document, Email, Step

if TYPE_CHECKING:
    from workflows.engine.engine import Engine
    from workflows.engine.unit_of_work import UnitOfWork
    from workflows.models import AD, Case, Mandataire, Task

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_LINK = re.compile(r"https?://\S+/invitation/\S+")
#: The invitation's triggers that only the mandataire fires.
_MANDATAIRE_TRIGGERS = frozenset({"set_password", "first_login"})


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


def invitation_case(
    tx: UnitOfWork,
    mandataire: Mandataire,
    *triggers: str,
    actor: Actor | None = None,
    by: Actor | None = None,
    trigger: str | None = "invite",
) -> Case:
    """The invitation of ``mandataire`` started in ``tx`` by ``actor`` (the system by
    default), passing through ``trigger`` as :meth:`start` does (``None``: left in its
    initial state), then ``triggers`` fired in order: ``set_password`` and
    ``first_login`` by ``by`` (the mandataire by default), the others by ``actor``."""
    actor = actor or Actor.system("test")
    case = tx.start(
        "invitation",
        mandataire.coop_id,
        actor=actor,
        data={"mandataire_id": mandataire.id},
        trigger=trigger,
    )
    for name in triggers:
        mine = name in _MANDATAIRE_TRIGGERS
        tx.fire(case.id, name, actor=(by or Actor.mandataire(mandataire)) if mine else actor)
    return case


def start_invitation(engine: Engine, ad: AD) -> tuple[int, int, Mandataire]:
    """A new mandataire of a new coop of ``ad``, invited: the case, its step, the person."""
    mandataire = MandataireFactory(coop__ad=ad)
    with engine.transaction() as tx:
        case_id = invitation_case(tx, mandataire).id
    with engine.db.read() as session:
        step_id = session.scalars(select(Step.id).where(Step.case_id == case_id)).one()
    return case_id, step_id, mandataire


def invitation_email(
    key: str,
    case_id: int,
    coop_id: int,
    to_address: str,
    *,
    subject: str = "Invitation",
    status: str = "stored",
) -> Email:
    """An invitation email row of a case (not added), its Message-ID made of ``key``."""
    return Email(
        idempotency_key=key,
        kind="invitation",
        case_id=case_id,
        coop_id=coop_id,
        to_address=to_address,
        subject=subject,
        text_body="texte",
        html_body="<p>html</p>",
        message_id=f"<{key}@coopflow>",
        status=status,
    )


def space_summary(
    key: str,
    case_id: int | None,
    coop_id: int,
    *,
    title: str = "Récapitulatif",
    filename: str = "recapitulatif.pdf",
    content: bytes = b"%PDF-1.4",
) -> Document:
    """A « space_summary » document row of a coop, of one of its cases or none (not
    added), its size that of ``content``."""
    return Document(
        idempotency_key=key,
        coop_id=coop_id,
        case_id=case_id,
        kind="space_summary",
        title=title,
        filename=filename,
        content=content,
        sha256="0" * 64,
        size=len(content),
    )


def manual_task(
    tx: UnitOfWork, case: Case, title: str, *, days: int, by: Actor | None = None
) -> Task:
    """A task opened by hand on ``case`` (locked by ``tx``) by ``by`` (the system by
    default), due in ``days`` days; flushed, its id known."""
    task = tx.open_task(
        case,
        kind="manual",
        title=title,
        due_at=tx.now + timedelta(days=days),
        created_by=by or Actor.system("test"),
    )
    tx.session.flush()
    return task


def active_account(engine: Engine, ad: AD) -> Mandataire:
    """A mandataire whose invitation reached ``active`` (so the processes waiting on the
    account, space check, kyc and iban, have started)."""
    mandataire = MandataireFactory(coop__ad=ad)
    with engine.transaction() as tx:
        invitation_case(tx, mandataire, "sent", "set_password", "first_login")
    return mandataire


def case_of(engine: Engine, coop_id: int, process: str) -> Case:
    """The case of ``process`` of the coop (there must be one)."""
    from workflows.models import Case

    with engine.db.read() as session:
        return session.scalars(
            select(Case).where(Case.coop_id == coop_id, Case.process == process)
        ).one()
