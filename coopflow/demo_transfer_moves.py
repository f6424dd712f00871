"""The moves of the transfer and advance demo stories (``coopflow/demo_transfer.py``),
each as the portal, the back-office or Swan makes it: the data the case keeps (as
``workflows.processes.banque_postale_transfer.attestation`` and the advance's definition
say) written in the transaction that fires its trigger."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.processes.transfer_letters import mark_sent
from coopflow.demo_affiliation import SEED_CLASSES, SUBSCRIPTION, _check, _submit
from coopflow.runtime import Runtime
from web.auth import StaffPrincipal
from workers.providers.swan.sandbox import SandboxSwan
from workflows import swan_events, swan_transactions
from workflows.engine.engine import Actor, Engine, UnitOfWork
from workflows.formatting import date_fr
from workflows.models import Case, Document, Mandataire, StaffUser
from workflows.processes.affiliation.form import AffiliationForm
from workflows.processes.banque_postale_transfer.attestation import funds_payload
from workflows.processes.banque_postale_transfer.definition import PROCESS as TRANSFER
from workflows.processes.banque_postale_transfer.definition import STATEMENTS
from workflows.processes.emergency_advance.definition import PROCESS as ADVANCE

RunPending = Callable[[Runtime, Engine], None]

#: AD06's staff who act in these stories (``coopflow.demo.DEMO_STAFF``).
AGENT, TREASURER = "ad06@occe.coop", "tresorier06@occe.coop"
#: The supplier an advance pays (a valid IBAN, its RIB key right).
SUPPLIER, SUPPLIER_IBAN = "PEP 06 Séjours", "FR7610107001011234567890129"
#: Where the portal's requests and signatures come from in the demo (TEST-NET-1).
DEMO_IP = "192.0.2.10"


@dataclass(frozen=True)
class Context:
    """The coop whose story is told (its affiliation number, its old account at La
    Banque Postale), and how its steps run."""

    number: str
    old_account: str
    coop_id: int
    run_pending: RunPending


# The moves -------------------------------------------------------------------------------


def _attest(rt: Runtime, engine: Engine, at: Context, declared_cents: int) -> None:
    """The attestation as the portal keeps it, then ``attest`` (the letter's step)."""
    with engine.transaction() as tx:
        case = tx.lock(_case_id(tx.session, at.coop_id, TRANSFER))
        me = _mandataire(tx.session, at.coop_id)
        case.data = {
            **(case.data or {}),
            "attestation": {
                **dict.fromkeys(STATEMENTS, True),
                "old_account": at.old_account,
                "declared_cents": declared_cents,
                "attested_at": tx.now.isoformat(),
                "attested_by": me.name,
                "ip": DEMO_IP,
            },
        }
        tx.fire(case.id, "attest", actor=me, payload={"declared_cents": declared_cents})


def _affiliate(rt: Runtime, engine: Engine, at: Context, _: None) -> None:
    """This school year's affiliation sent, then its payment and commitment checked."""
    _submit(engine, at.number, AffiliationForm(SEED_CLASSES, [SUBSCRIPTION]))
    at.run_pending(rt, engine)  # the commitment to sign is made
    _check(engine, at.number, ("payment", "commitment"))


def _request(rt: Runtime, engine: Engine, at: Context, amount_cents: int) -> None:
    """The advance asked as the portal asks it: the quote kept, the case started with
    its request and ``request`` fired, in one transaction."""
    with engine.transaction() as tx:
        transfer = tx.lock(_case_id(tx.session, at.coop_id, TRANSFER))
        me = _mandataire(tx.session, at.coop_id)
        quote = _quote(tx, at)
        project_on = (tx.now + timedelta(days=60)).date()
        case = tx.start(
            ADVANCE,
            at.coop_id,
            actor=me,
            data={
                "request": {
                    "project": "Classe de découverte à Saint-Martin-Vésubie",
                    "project_on": project_on.isoformat(),
                    "pays_for": "Acompte du séjour (hébergement et transport)",
                    "supplier": SUPPLIER,
                    "supplier_iban": SUPPLIER_IBAN,
                    "amount_cents": amount_cents,
                    "declared_cents": transfer.data["attestation"]["declared_cents"],
                    "quote_document_id": quote.id,
                    "requested_by": me.name,
                    "requested_at": tx.now.isoformat(),
                }
            },
            trigger="request",
        )
        tx.session.flush()
        quote.case_id = case.id


def _review(decision: str) -> Callable[[Runtime, Engine, Context, str | None], None]:
    def review(rt: Runtime, engine: Engine, at: Context, reason: str | None) -> None:
        """AD06's treasurer decides, as the back-office's review form does."""
        with engine.transaction() as tx:
            treasurer = _staff(tx.session, TREASURER)
            case = _kept(
                tx,
                at.coop_id,
                "review",
                {
                    "decision": decision,
                    "reason": reason or "",
                    "by": treasurer.full_name,
                    "officer_role": treasurer.officer_role,
                    "at": tx.now.isoformat(),
                },
            )
            trigger = "approve" if decision == "approved" else "reject"
            tx.fire(
                case.id,
                trigger,
                actor=Actor.staff(treasurer),
                payload={"reason": reason or ""},
                comment=reason,
            )

    return review


def _sign(rt: Runtime, engine: Engine, at: Context, _: None) -> None:
    """The mandataire types their name and ticks the consent (the contract rendered)."""
    with engine.transaction() as tx:
        me = _mandataire(tx.session, at.coop_id)
        signature = {
            "name": me.name,
            "consent": True,
            "signed_at": tx.now.isoformat(),
            "ip": DEMO_IP,
        }
        case = _kept(tx, at.coop_id, "signature", signature)
        tx.fire(case.id, "sign", actor=me, payload={"signature": signature})


def _disburse(rt: Runtime, engine: Engine, at: Context, _: None) -> None:
    """AD06 paid the supplier and records the transfer."""
    with engine.transaction() as tx:
        agent = _staff(tx.session, AGENT)
        paid = {
            "disbursed_on": tx.now.date().isoformat(),
            "reference": f"AVANCE-{at.number}",
        }
        case = _kept(tx, at.coop_id, "disbursement", {**paid, "by": agent.full_name})
        tx.fire(case.id, "disburse", actor=Actor.staff(agent), payload=paid)


def _send(rt: Runtime, engine: Engine, at: Context, _: None) -> None:
    """The letter posted, as « Lettres à envoyer » marks it."""
    with engine.transaction() as tx:
        user = _staff(tx.session, AGENT)
        agent = StaffPrincipal(user.id, user.email, user.full_name, user.role, user.ad_id)
        case_id = _case_id(tx.session, at.coop_id, TRANSFER)
        mark_sent(tx, agent, case_id, tx.now.date(), None)


def _swan_funds(rt: Runtime, engine: Engine, at: Context, cents: int) -> None:
    """La Banque Postale's transfer booked on the coop's Swan account; its event
    delivered as ``/webhooks/swan`` delivers it (read from Swan, then matched)."""
    sandbox = SandboxSwan(rt.db, engine.clock, base_url=rt.settings.base_url)
    with rt.db.read() as session:
        account = swan_events.tied(session, swan_transactions.ACCOUNT, coop_id=at.coop_id)
    assert account is not None, at.number
    reference = f"CLOTURE COMPTE {at.old_account[14:25]}"
    for event in sandbox.receive_transfer(account, cents, reference=reference):
        swan_transactions.receive(engine, swan_events.parse(event), sandbox)


def _staff_funds(rt: Runtime, engine: Engine, at: Context, cents: int) -> None:
    """AD06 saw the balance arrive and records it (« Enregistrer les fonds reçus »)."""
    with engine.transaction() as tx:
        agent = _staff(tx.session, AGENT)
        case = tx.lock(_case_id(tx.session, at.coop_id, TRANSFER))
        day = tx.now.date()
        payload = funds_payload(
            case,
            case.coop.ad,
            received_cents=cents,
            received_on=day,
            source="staff",
            recorded_by=agent.full_name,
        )
        case.data = {
            **(case.data or {}),
            "funds": {
                "received_cents": cents,
                "received_on": day.isoformat(),
                "source": "staff",
                "recorded_by": agent.full_name,
            },
        }
        tx.fire(case.id, "funds_received", actor=Actor.staff(agent), payload=payload)


def _close(rt: Runtime, engine: Engine, at: Context, _: None) -> None:
    with engine.transaction() as tx:
        agent = _staff(tx.session, AGENT)
        tx.fire(
            _case_id(tx.session, at.coop_id, TRANSFER),
            "close_account",
            actor=Actor.staff(agent),
            comment="Clôture confirmée par le relevé de clôture de La Banque Postale.",
        )


#: What a story's moves do, by name.
MOVES: dict[str, Callable[[Runtime, Engine, Context, Any], None]] = {
    "attest": _attest,
    "affiliate": _affiliate,
    "request": _request,
    "approve": _review("approved"),
    "reject": _review("rejected"),
    "sign": _sign,
    "disburse": _disburse,
    "send": _send,
    "swan_funds": _swan_funds,
    "staff_funds": _staff_funds,
    "close": _close,
}


# Reading and writing ---------------------------------------------------------------------


def _kept(tx: UnitOfWork, coop_id: int, key: str, value: dict[str, Any]) -> Case:
    """The coop's advance, locked, with ``value`` kept under ``key`` of its data."""
    case = tx.lock(_case_id(tx.session, coop_id, ADVANCE))
    case.data = {**(case.data or {}), key: value}
    return case


def _quote(tx: UnitOfWork, at: Context) -> Document:
    """The supplier's quote, kept as the portal keeps an upload (its case set after)."""
    content = quote_pdf()
    document = Document(
        idempotency_key=f"advance_quote:demo-{at.number}",
        coop_id=at.coop_id,
        kind="advance_quote",
        title=f"Devis ou facture joint à la demande d'avance le {date_fr(tx.now)}",
        filename=f"devis-avance-{at.number}.pdf",
        content_type="application/pdf",
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        created_at=tx.now,
    )
    tx.session.add(document)
    tx.session.flush()
    return document


@cache
def quote_pdf() -> bytes:
    """A one-page quote of the supplier, as a mandataire would scan it."""
    from weasyprint import HTML

    return bytes(
        HTML(
            string=(
                "<html lang='fr'><body style='font-family: DejaVu Sans'>"
                f"<h1>{SUPPLIER}</h1><h2>Devis n° 2026-118</h2>"
                "<p>Classe de découverte à Saint-Martin-Vésubie, 3 jours, 2 classes.</p>"
                "<p>Acompte demandé à la réservation : hébergement et transport.</p>"
                "</body></html>"
            )
        ).write_pdf()
    )


def _case_id(session: Session, coop_id: int, process: str) -> int:
    case_id = session.scalars(
        select(Case.id)
        .where(Case.coop_id == coop_id, Case.process == process)
        .order_by(Case.id.desc())
        .limit(1)
    ).first()
    assert case_id is not None, (coop_id, process)
    return int(case_id)


def _mandataire(session: Session, coop_id: int) -> Actor:
    person = session.scalars(select(Mandataire).where(Mandataire.coop_id == coop_id)).one()
    return Actor.mandataire(person)


def _staff(session: Session, email: str) -> StaffUser:
    return session.scalars(select(StaffUser).where(StaffUser.email == email)).one()
