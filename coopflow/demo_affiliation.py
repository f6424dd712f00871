"""Demonstration data of the yearly affiliation: the ADs' price lists, last year's
cases of two coops (one validated, whose classes the new year carries over; one never
sent, that the new year closes), and this year's case of AD06's demo coops in every
lasting state: to complete, sent back with the AD's comment, waiting for its three
items (one with its payment already received), validated with its attestations, late.

As for the rest of the demo the history is real: the mandataires' forms go through the
fee's computation and ``submit``, staff check the items through the validation's own
functions, and the steps render the documents. ``submitted`` lasts until the worker's
next turn (the commitment is rendered): no demo case stays in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from coopflow.demo_banking import PASSWORD
from coopflow.demo_prices import load_demo_prices
from coopflow.runtime import Runtime
from workflows.engine.actor import Actor
from workflows.engine.clock import MovableClock
from workflows.engine.cross_process import PARIS, school_year_of
from workflows.engine.engine import Engine
from workflows.formatting import euros
from workflows.models import AD, Case, Coop, Mandataire, StaffUser
from workflows.password_hashing import hash_password
from workflows.processes.affiliation.fee import compute, price_list
from workflows.processes.affiliation.form import (
    AffiliationForm,
    Change,
    SchoolClass,
    payment_reference,
)
from workflows.processes.affiliation.validation import record_check, send_back

#: Seed 004's school: 3 classes, 63 pupils, 4 teachers (136,99 € with its subscription).
SEED_CLASSES = [
    SchoolClass("CE1", "Mme Detruc - Mlle Machin", 2, 23),
    SchoolClass("CE2", "M. Chose", 1, 22),
    SchoolClass("CP", "M. Aymard", 1, 18),
]
SUBSCRIPTION = "abonnement_toto"
RETURNED = (
    "Le nombre d'élèves du CE2 ne correspond pas à celui que l'école nous a transmis "
    "(25). Pouvez-vous vérifier et corriger ?"
)

RunPending = Callable[[Runtime, Engine], None]

#: What each demo mandataire's affiliation shows (printed at start, in the README).
SEES = {
    "eloise.martin@ac-nice.fr": "adhésion à compléter",
    "anais.berenger@ac-nice.fr": "adhésion à compléter, classes de l'an dernier reprises",
    "loic.menard@ac-nice.fr": "adhésion à compléter (celle de l'an dernier close sans envoi)",
    "camille.giraud@ac-nice.fr": "adhésion à compléter (la visite guidée : 136,99 €)",
    "mathis.rey@ac-nice.fr": "adhésion envoyée (136,99 €), payée par le relevé de démonstration",
    "nadia.haddad@ac-nice.fr": "adhésion renvoyée par l'AD pour correction",
    "sophie.lambert@ac-nice.fr": "adhésion validée, ses deux attestations",
    "thomas.girard@ac-nice.fr": "adhésion en retard (bloque la carte et l'avance)",
    "lea.fontaine@ac-nice.fr": (
        "adhésion payée ; engagement signé et changement de signataires attendus"
    ),
    "yanis.caron@ac-nice.fr": "adhésion en retard",
}


def last_year(rt: Runtime, run_pending: RunPending) -> None:
    """Before the accounts are activated: the price lists of both years, and last
    year's cases of 0060106F (validated) and 0060107G (never sent)."""
    year = school_year_of(rt.engine.clock.now())
    with rt.engine.transaction() as tx:
        ads = list(tx.session.scalars(select(AD).order_by(AD.id)))
        for school_year in (year - 1, year):
            load_demo_prices(tx.session, ads, school_year)
    # Last year, at its own time (mid-September), as the history would read.
    then = rt.engine.clock.now().astimezone(PARIS).replace(year=year - 1, month=9, day=12)
    past = Engine(rt.db, rt.engine.definitions, clock=MovableClock(start=then))
    with past.transaction() as tx:
        for number in ("0060106F", "0060107G"):
            tx.start(
                "affiliation", _coop_id(tx.session, number), actor=_demo(), school_year=year - 1
            )
        # Last year 0060106F's mandataire had an account already (the emails reach her).
        person = tx.session.scalars(
            select(Mandataire).where(Mandataire.coop_id == _coop_id(tx.session, "0060106F"))
        ).one()
        person.password_hash = hash_password(PASSWORD)
        person.password_set_at = tx.now
    run_pending(rt, past)
    _submit(past, "0060106F", AffiliationForm(SEED_CLASSES, [SUBSCRIPTION]), year - 1)
    run_pending(rt, past)
    _check(past, "0060106F", ("payment", "commitment"), year - 1)
    run_pending(rt, past)


def this_year(rt: Runtime, run_pending: RunPending) -> None:
    """After the accounts are activated (their cases are open, in ``draft``)."""
    engine = rt.engine
    _submit(engine, "0060109J", AffiliationForm(SEED_CLASSES, [SUBSCRIPTION]))
    _submit(engine, "0060110K", AffiliationForm(SEED_CLASSES[:2]))
    _submit(engine, "0060111L", AffiliationForm(SEED_CLASSES[1:], [SUBSCRIPTION]))
    change = Change(signatories=True, details="Mme Fontaine et M. Vidal, directeur de l'école.")
    _submit(engine, "0060113N", AffiliationForm(SEED_CLASSES, change=change))
    run_pending(rt, engine)
    with engine.transaction() as tx:
        send_back(tx, _case_id(tx.session, "0060110K"), _staff(tx.session), RETURNED)
    _check(engine, "0060111L", ("payment", "commitment"))
    _check(engine, "0060113N", ("payment",))
    # 0060112M let its deadline pass: the day before yesterday, then the timer's turn.
    with engine.transaction() as tx:
        case_id = _case_id(tx.session, "0060112M")
        case = tx.lock(case_id)
        late = (tx.now.astimezone(PARIS) - timedelta(days=2)).date()
        case.data = {**case.data, "deadline": late.isoformat()}
        tx.fire(case_id, "deadline_passed", actor=Actor.system("minuteur deadline"))
    run_pending(rt, engine)


def _submit(engine: Engine, number: str, form: AffiliationForm, year: int | None = None) -> None:
    """The mandataire sends the form as the portal does: the fee frozen, ``submit``."""
    with engine.transaction() as tx:
        case_id = _case_id(tx.session, number, year)
        case = tx.lock(case_id)
        fee = compute(price_list(tx.session, case.ad_id, case.school_year or 0), form)
        case.data = {**case.data, "form": form.to_data(), "fee": fee.to_data()}
        person = tx.session.scalars(
            select(Mandataire).where(Mandataire.coop_id == case.coop_id).order_by(Mandataire.id)
        ).first()
        actor = Actor.mandataire(person) if person else _demo()
        tx.fire(case_id, "submit", actor=actor)


def _check(engine: Engine, number: str, items: tuple[str, ...], year: int | None = None) -> None:
    """AD06's staff record the items, each with what they saw."""
    with engine.transaction() as tx:
        case_id = _case_id(tx.session, number, year)
        case = tx.session.get(Case, case_id)
        assert case is not None and case.coop is not None
        staff = _staff(tx.session)
        total = case.data["fee"]["total_cents"]
        school_year = case.school_year or 0
        details: dict[str, dict[str, Any]] = {
            "payment": {
                "amount_cents": total,
                "received_on": tx.now.astimezone(PARIS).date(),
                "reference": payment_reference(school_year, case.coop.affiliation_number),
                "source": "manual",
            },
            "commitment": {"note": "Reçu par courrier, daté et signé."},
        }
        for item in items:
            record_check(tx, case_id, item, staff, details[item], comment="Démonstration")


def _coop_id(session: Any, number: str) -> int:
    coop_id = session.scalar(select(Coop.id).where(Coop.affiliation_number == number))
    assert coop_id is not None, number
    return int(coop_id)


def _case_id(session: Any, number: str, year: int | None = None) -> int:
    query = (
        select(Case.id)
        .join(Coop, Coop.id == Case.coop_id)
        .where(Coop.affiliation_number == number, Case.process == "affiliation")
    )
    if year is not None:
        query = query.where(Case.school_year == year)
    case_id = session.scalars(query.order_by(Case.id.desc()).limit(1)).first()
    assert case_id is not None, (number, year)
    return int(case_id)


def _staff(session: Any) -> Actor:
    staff = session.scalars(select(StaffUser).where(StaffUser.email == "ad06@occe.coop")).first()
    return Actor.staff(staff) if staff else _demo()


def _demo() -> Actor:
    return Actor.system("démonstration")


def write_demo_statement(rt: Runtime, directory: Path) -> Path:
    """AD06's bank statement of the demo, as its bank exports it: the payment of
    0060109J's affiliation (its reference and fee), a payment of another amount, one
    without a reference, a debit. « Relevé bancaire » in the back-office loads it."""
    with rt.db.read() as session:
        case = session.get(Case, _case_id(session, "0060109J"))
        assert case is not None and case.coop is not None
        reference = payment_reference(case.school_year or 0, case.coop.affiliation_number)
        fee = euros(case.data["fee"]["total_cents"]).replace("\u202f", "").replace("\xa0€", "")
        other = session.get(Case, _case_id(session, "0060113N"))
        assert other is not None and other.coop is not None
        other_reference = payment_reference(other.school_year or 0, other.coop.affiliation_number)
    day = rt.engine.clock.now().astimezone(PARIS).strftime("%d/%m/%Y")
    lines = [
        "Date;Libellé;Débit;Crédit",
        f"{day};VIR SEPA COOP DE L'ECOLE {reference};;{fee}",
        f"{day};VIR SEPA COOP DU VALLON ADHESION {other_reference};;100,00",
        f"{day};VIR SEPA MAIRIE DE NICE SUBVENTION;;450,00",
        f"{day};PRLV ASSURANCE MAIF;54,20;",
    ]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "releve-demo-ad06.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
