"""Cases of ``banque_postale_transfer`` and ``emergency_advance`` brought to a state the
way the portal, the workers and staff would (their transitions fired in order, the data
each writes kept in the case): what the tests of every layer start from."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from tests.factories import StaffFactory, staff_password_hash
from tests.helpers import active_account, case_of
from workflows.engine.engine import Actor, Engine
from workflows.models import AD, BankAccount, Case, Mandataire, Step
from workflows.processes.banque_postale_transfer.definition import DEFINITION as TRANSFER
from workflows.processes.emergency_advance.definition import DEFINITION as ADVANCE

SYSTEM = Actor.system("test")
#: Valid IBANs of La Banque Postale (bank 20041, RIB key right) and a supplier's.
OLD_ACCOUNT = "FR5120041010050123456A02084"
OTHER_OLD_ACCOUNT = "FR5320041010050987654B03162"
NEW_IBAN = "FR7630006000011234567890189"
SUPPLIER_IBAN = "FR7610107001011234567890129"
ATTESTATION: dict[str, Any] = {
    "cheques_issued": True,
    "cheques_deposited": True,
    "no_operation": True,
    "old_account": OLD_ACCOUNT,
    "declared_cents": 180000,
}
REQUEST: dict[str, Any] = {
    "project": "Classe de découverte à Saint-Martin-Vésubie",
    "project_on": "2027-03-15",
    "pays_for": "Acompte du séjour (hébergement et transport)",
    "supplier": "PEP 06 Séjours",
    "supplier_iban": SUPPLIER_IBAN,
    "amount_cents": 80000,
    "declared_cents": 180000,
}


def fire(engine: Engine, case_id: int, trigger: str, actor: Actor = SYSTEM, **payload: Any) -> Case:
    with engine.transaction() as tx:
        tx.fire(case_id, trigger, actor=actor, payload=payload)
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def steps_of(engine: Engine, case_id: int) -> list[str]:
    with engine.db.read() as s:
        return list(s.scalars(select(Step.name).where(Step.case_id == case_id).order_by(Step.id)))


def officer(ad: AD, role: str = "treasurer", name: str = "Denis Olivier") -> Actor:
    """A president or treasurer of ``ad``: who alone reviews its coops' advances."""
    return Actor.staff(StaffFactory(ad=ad, full_name=name, officer_role=role))


def banking_done(engine: Engine, ad: AD, iban: str = NEW_IBAN) -> Mandataire:
    """A mandataire with a password (:data:`tests.factories.STAFF_PASSWORD`) whose
    identity is verified and whose coop's account is certified (a real certified RIB):
    the transfer starts by itself, awaiting the attestation."""
    mandataire = active_account(engine, ad)
    coop_id = mandataire.coop_id
    with engine.transaction() as tx:  # a password chosen: the coop's emails go to them
        person = tx.session.get(Mandataire, mandataire.id)
        assert person is not None
        person.password_hash, person.password_set_at = staff_password_hash(), tx.now
    fire(engine, case_of(engine, coop_id, "kyc").id, "validate")
    iban_case = case_of(engine, coop_id, "iban")
    with engine.transaction() as tx:
        account = BankAccount(
            coop_id=coop_id,
            case_id=iban_case.id,
            iban=iban,
            bic="AGRIFRPP",
            holder=f"OCCE {ad.code[2:]} {mandataire.coop.name}"[:140],
            rib_date=date(2026, 9, 1),
            submitted_by=mandataire.full_name,
            status="certified",
            certified_at=tx.now,
        )
        tx.session.add(account)
        tx.session.flush()
        account_id = account.id
    me = Actor.mandataire(mandataire)
    # In one transaction: a worker running beside (a runtime's) takes no step between.
    with engine.transaction() as tx:
        tx.fire(iban_case.id, "submit_rib", actor=me, payload={"bank_account_id": account_id})
        tx.fire(iban_case.id, "accept", actor=SYSTEM)
        tx.fire(iban_case.id, "certified", actor=SYSTEM)
    return mandataire


def attested(
    engine: Engine, ad: AD, declared_cents: int = 180000, mandataire: Mandataire | None = None
) -> tuple[Mandataire, Case]:
    """The attestation kept in the case as the portal keeps it, ``attest`` fired (the
    letter's step queued)."""
    mandataire = mandataire or banking_done(engine, ad)
    case = case_of(engine, mandataire.coop_id, TRANSFER.name)
    with engine.transaction() as tx:
        locked = tx.lock(case.id)
        locked.data = {
            **(locked.data or {}),
            "attestation": {
                **ATTESTATION,
                "declared_cents": declared_cents,
                "attested_at": tx.now.isoformat(),
                "attested_by": mandataire.full_name,
                "ip": "192.0.2.10",
            },
        }
        tx.fire(case.id, "attest", actor=Actor.mandataire(mandataire))
    return mandataire, case_of(engine, mandataire.coop_id, TRANSFER.name)


def affiliated(engine: Engine, coop_id: int) -> None:
    """This school year's affiliation validated (as staff would after the payment)."""
    affiliation = case_of(engine, coop_id, "affiliation")
    with engine.transaction() as tx:
        tx.lock(affiliation.id).state = "validated"


def eligible(engine: Engine, ad: AD, declared_cents: int = 180000) -> Mandataire:
    """A mandataire whose coop may ask for an advance: banking done, the attestation
    sent (transfer pending), the affiliation validated."""
    mandataire, _ = attested(engine, ad, declared_cents)
    affiliated(engine, mandataire.coop_id)
    return mandataire


def requested(
    engine: Engine, mandataire: Mandataire, request: dict[str, Any] | None = None
) -> Case:
    """The advance asked as the portal asks it: the case created with its request and
    ``request`` fired in one transaction."""
    with engine.transaction() as tx:
        case = tx.start(
            ADVANCE.name,
            mandataire.coop_id,
            actor=Actor.mandataire(mandataire),
            data={"request": {**REQUEST, **(request or {}), "requested_by": mandataire.full_name}},
            trigger="request",
        )
        tx.session.flush()
        case_id = case.id
    with engine.db.read() as s:
        found = s.get(Case, case_id)
        assert found is not None
        return found


def signature(mandataire: Mandataire) -> dict[str, Any]:
    return {
        "name": mandataire.full_name,
        "consent": True,
        "signed_at": "2026-10-01T08:30:00+00:00",
        "ip": "192.0.2.10",
    }


#: What each trigger's form keeps in the advance's data (the definition's docstring).
_KEPT: dict[str, Any] = {
    "approve": lambda actor, _payload, at: (
        "review",
        {
            "decision": "approved",
            "reason": "",
            "by": actor.name,
            "officer_role": "treasurer",
            "at": at,
        },
    ),
    "reject": lambda actor, payload, at: (
        "review",
        {
            "decision": "rejected",
            "reason": payload["reason"],
            "by": actor.name,
            "officer_role": "treasurer",
            "at": at,
        },
    ),
    "sign": lambda _actor, payload, _at: ("signature", payload["signature"]),
    "disburse": lambda actor, payload, _at: ("disbursement", {**payload, "by": actor.name}),
    "record_repayment": lambda actor, _payload, _at: (
        "repayment",
        {"repaid_on": "2026-11-02", "reference": "RB-1", "source": "staff", "by": actor.name},
    ),
}

#: The advance's states in the order :func:`advance_at` reaches them.
ADVANCE_PATH = (
    "requested",
    "under_review",
    "approved",
    "awaiting_signature",
    "signed",
    "disbursed",
)


def advance_at(engine: Engine, ad: AD, state: str, mandataire: Mandataire | None = None) -> Case:
    """An advance of an eligible coop brought to ``state`` (one of :data:`ADVANCE_PATH`,
    ``rejected`` or ``repaid``), each transition fired by whom it belongs to, all in one
    transaction: the steps of the states passed are not run (their documents are not
    made), and a worker running beside (a runtime's) takes none of them meanwhile; those
    of ``state`` run once it commits."""
    mandataire = mandataire or eligible(engine, ad)
    me = Actor.mandataire(mandataire)
    reviewer = officer(ad, name=f"Trésorier {mandataire.coop_id}")
    with engine.transaction() as tx:
        case = tx.start(
            ADVANCE.name,
            mandataire.coop_id,
            actor=me,
            data={"request": {**REQUEST, "requested_by": mandataire.full_name}},
            trigger="request",
        )
        tx.session.flush()
        plan: list[tuple[str, Actor, dict[str, Any]]] = [
            ("to_review", SYSTEM, {}),
            ("approve", reviewer, {}),
            ("contract_ready", SYSTEM, {}),
            ("sign", me, {"signature": signature(mandataire)}),
            ("disburse", reviewer, {"disbursed_on": "2026-10-02", "reference": f"AV-{case.id}"}),
        ]
        if state == "rejected":
            plan = [plan[0], ("reject", reviewer, {"reason": "Pas un séjour autorisé."})]
        else:
            plan = plan[: ADVANCE_PATH.index("disbursed" if state == "repaid" else state)]
            if state == "repaid":
                plan.append(("record_repayment", reviewer, {}))
        for trigger, actor, payload in plan:
            tx.fire(case.id, trigger, actor=actor, payload=payload)
            kept = _KEPT.get(trigger)
            if kept is not None:  # what the portal or the staff form keeps with it
                key, value = kept(actor, payload, tx.now.isoformat())
                case.data = {**(case.data or {}), key: value}
        case_id = case.id
    with engine.db.read() as s:
        found = s.get(Case, case_id)
        assert found is not None and found.state == state, (found and found.state, state)
        return found
