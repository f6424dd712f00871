"""``emergency_advance`` alone (not registered yet): asked only by an eligible coop (the
reasons said otherwise), reviewed by the AD's officers, signed by the mandataire, paid by
staff, overdue past the AD's delay until a repayment is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import ADFactory, StaffFactory
from tests.helpers import active_account, case_of
from tests.transfer_helpers import attested, fire, steps_of
from tests.workflows.processes.test_banque_postale_transfer import CLAIRE
from workflows.engine.engine import Actor
from workflows.engine.errors import GuardFailed
from workflows.engine.scheduling import tick
from workflows.models import Case
from workflows.processes.emergency_advance.definition import DEFINITION as ADVANCE
from workflows.processes.emergency_advance.definition import eligibility_unmet

SIGNATURE = {"name": "Camille Giraud", "consent": True, "signed_at": "x", "ip": "192.0.2.1"}


@pytest.fixture
def treasurer(ad) -> Actor:  # type: ignore[no-untyped-def]
    """The AD's treasurer: only an officer of the coop's AD reviews its advances."""
    user = StaffFactory(ad=ad, full_name="Denis Olivier", officer_role="treasurer")
    return Actor.staff(user)


def _asked(engine, mandataire):  # type: ignore[no-untyped-def]
    """The request as the portal makes it: the case created and its request fired in one
    transaction (refused whole when the coop is not eligible)."""
    with engine.transaction() as tx:
        case = tx.start(
            ADVANCE.name,
            mandataire.coop_id,
            actor=Actor.mandataire(mandataire),
            data={"request": {"amount_cents": 80000}},
            trigger="request",
        )
        tx.session.flush()
        case_id = case.id
    return case_of_id(engine, case_id)


def case_of_id(engine, case_id: int) -> Case:  # type: ignore[no-untyped-def]
    with engine.db.read() as s:
        found = s.get(Case, case_id)
        assert found is not None
        return found


def _eligible(engine, ad):  # type: ignore[no-untyped-def]
    mandataire, _transfer = attested(engine, ad)
    with engine.transaction() as tx:
        tx.lock(case_of(engine, mandataire.coop_id, "affiliation").id).state = "validated"
    return mandataire


def test_only_an_eligible_coop_may_ask_and_the_others_read_why(engine, ad):
    mandataire = active_account(engine, ad)
    with engine.db.read() as s:
        reasons = eligibility_unmet(s, mandataire.coop_id, engine.clock.now())
    assert reasons[0] == "Disponible quand votre identité sera vérifiée."
    assert len(reasons) == 4
    with pytest.raises(GuardFailed, match="identité sera vérifiée"):
        _asked(engine, mandataire)
    with engine.db.read() as s:  # refused whole: no case left behind
        assert s.scalar(select(Case.id).where(Case.process == ADVANCE.name)) is None
    asked = _asked(engine, _eligible(engine, ad))
    assert asked.state == "requested"
    assert steps_of(engine, asked.id) == ["notify_reviewers"]


def test_a_refusal_needs_its_reason_and_an_approval_makes_the_contract(engine, ad, treasurer):
    asked = _asked(engine, _eligible(engine, ad))
    fire(engine, asked.id, "to_review")
    with pytest.raises(GuardFailed, match="Indiquez le motif du refus"):
        fire(engine, asked.id, "reject", actor=treasurer)
    other = _asked(engine, _eligible(engine, ad))
    fire(engine, other.id, "to_review")
    assert fire(engine, other.id, "reject", actor=treasurer, reason="Pas un séjour.").state == (
        "rejected"
    )
    assert steps_of(engine, other.id)[-1] == "notify_rejected"
    with pytest.raises(GuardFailed, match="Seuls le président et le trésorier"):
        agent = Actor.staff(StaffFactory(ad=ad, full_name="Claire Agent"))
        fire(engine, asked.id, "approve", actor=agent)  # staff of the AD, not an officer
    elsewhere = ADFactory(code="AD35")
    other_ad = Actor.staff(
        StaffFactory(ad=elsewhere, full_name="Autre Trésorier", officer_role="treasurer")
    )
    with pytest.raises(GuardFailed, match="Seuls le président et le trésorier"):
        fire(engine, asked.id, "approve", actor=other_ad)  # another AD's treasurer
    approved = fire(engine, asked.id, "approve", actor=treasurer)
    assert steps_of(engine, approved.id)[-1] == "render_advance_contract"


def test_a_signature_needs_the_consent_and_the_name_and_the_payment_its_reference(
    engine, ad, treasurer
):
    mandataire = _eligible(engine, ad)
    case = _asked(engine, mandataire)
    for trigger in ("to_review",):
        fire(engine, case.id, trigger)
    fire(engine, case.id, "approve", actor=treasurer)
    fire(engine, case.id, "contract_ready")
    me = Actor.mandataire(mandataire)
    for missing, said in (("consent", "Cochez la case"), ("name", "Tapez votre nom complet")):
        with pytest.raises(GuardFailed, match=said):
            fire(engine, case.id, "sign", actor=me, signature={**SIGNATURE, missing: ""})
    assert fire(engine, case.id, "sign", actor=me, signature=SIGNATURE).state == "signed"
    with pytest.raises(GuardFailed, match="référence du virement"):
        fire(engine, case.id, "disburse", actor=CLAIRE, disbursed_on="2026-10-01")


def test_an_advance_not_repaid_in_the_ads_delay_is_stuck_until_a_repayment(
    engine, clock, ad, treasurer
):
    mandataire = _eligible(engine, ad)
    case = _asked(engine, mandataire)
    fire(engine, case.id, "to_review")
    fire(engine, case.id, "approve", actor=treasurer)
    fire(engine, case.id, "contract_ready")
    fire(engine, case.id, "sign", actor=Actor.mandataire(mandataire), signature=SIGNATURE)
    fire(engine, case.id, "disburse", actor=CLAIRE, disbursed_on="2026-10-01", reference="V1")
    clock.advance(timedelta(days=89))
    tick(engine)
    assert case_of(engine, mandataire.coop_id, ADVANCE.name).state == "disbursed"
    clock.advance(timedelta(days=1, minutes=1))
    tick(engine)
    late = case_of(engine, mandataire.coop_id, ADVANCE.name)
    assert (late.state, late.stuck_reason, late.stuck_action) == (
        "overdue",
        "advance_overdue",
        "record_repayment",
    )
    repaid = fire(engine, case.id, "record_repayment", actor=CLAIRE)
    assert repaid.state == "repaid" and repaid.stuck_reason is None
