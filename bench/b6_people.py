"""B6's people: the affiliations opened, then the mandataires submitting and the AD's
staff validating through the engine, :data:`USERS` at a time, as the portal's and the
back-office's requests do (``bench.b6_documents`` times the workers around them)."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from sqlalchemy import func, select

from bench.b6_seed import YEAR, classes_form
from workflows.engine.engine import Actor
from workflows.models import Case, Mandataire, StaffUser
from workflows.processes.affiliation.fee import compute, price_list
from workflows.processes.affiliation.form import COMMITMENT, PAYMENT, payment_reference
from workflows.processes.affiliation.validation import record_check

#: People acting at once (mandataires submitting, staff validating).
USERS = 4


def opened(runtime: Any, coop_ids: list[int]) -> list[int]:
    system = Actor.system("bench")
    ids: list[int] = []
    for start in range(0, len(coop_ids), 1000):
        with runtime.engine.transaction() as tx:
            cases = tx.start_many(
                "affiliation",
                [(c, {}) for c in coop_ids[start : start + 1000]],
                actor=system,
                school_year=YEAR,
            )
            tx.session.flush()
            ids += [c.id for c in cases]
    return ids


def opened_count(runtime: Any) -> int:
    with runtime.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.process == "affiliation", Case.data["opened"].as_boolean().is_(True))
            )
            or 0
        )


def in_parallel(work: Callable[[list[int]], None], case_ids: list[int]) -> None:
    """``work(ids)`` on :data:`USERS` shares of ``case_ids`` at once:
    mandataires and staff act at the same time, as the portal's and the back-office's
    requests do (one by one, a person's 15 ms of transaction would set the pace)."""
    with ThreadPoolExecutor(USERS) as pool:
        for done in [pool.submit(work, case_ids[n::USERS]) for n in range(USERS)]:
            done.result()


def submit_all(runtime: Any, case_ids: list[int], seed: int) -> None:
    """Each mandataire sends the form (as ``web.portal.affiliation.submit`` does)."""
    for case_id in case_ids:
        rng = random.Random(seed * 1_000_003 + case_id)
        with runtime.engine.transaction() as tx:
            case = tx.lock(case_id)
            prices = price_list(tx.session, case.ad_id, YEAR)
            form = classes_form(rng)
            fee = compute(prices, form)
            coop = case.coop
            person = tx.session.scalars(
                select(Mandataire).where(Mandataire.coop_id == coop.id)
            ).first()
            case.data = {
                **(case.data or {}),
                "form": form.to_data(),
                "fee": fee.to_data(),
                "reference": payment_reference(YEAR, coop.affiliation_number),
            }
            tx.fire(case_id, "submit", actor=Actor.mandataire(person))


def validate_all(runtime: Any, case_ids: list[int], staff_id: int) -> None:
    """The AD's staff check the payment and the signed commitment: validated."""
    for case_id in case_ids:
        with runtime.engine.transaction() as tx:
            actor = Actor.staff(tx.session.get(StaffUser, staff_id))
            case = tx.lock(case_id)
            total = int(case.data["fee"]["total_cents"])
            details = {
                "amount_cents": total,
                "received_on": date(2026, 9, 18),
                "reference": case.data["reference"],
                "source": "manual",
            }
            record_check(tx, case_id, PAYMENT, actor, details)
            record_check(tx, case_id, COMMITMENT, actor, {})
