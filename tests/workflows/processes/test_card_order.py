"""``card_order`` alone (no worker runs its steps): the card is
offered once the identity is verified, the account certified and this year's
affiliation validated; ordered to the school, or elsewhere once staff approve; Swan's
statuses move it forward only; consent, printing and activation late are stuck with
their actions; a card back at the AD is sent on or handed over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import case_of
from tests.transfer_helpers import SYSTEM, affiliated, banking_done, fire, steps_of
from workflows.engine.engine import Actor, Engine
from workflows.engine.errors import GuardFailed, TransitionNotAllowed
from workflows.engine.scheduling import tick
from workflows.models import Case, Task
from workflows.processes.card_order.definition import DEFINITION as CARD
from workflows.processes.card_order.definition import SWAN_STATUSES

CLAIRE = Actor("staff", 1, "Claire Agent")
SCHOOL = {"line1": "4 avenue Thiers", "postal_code": "06000", "city": "Nice", "country": "FRA"}


def _offered(engine: Engine, ad: Any) -> tuple[Any, Case]:
    """A coop whose three prerequisites are met: its card is to order."""
    mandataire = banking_done(engine, ad)
    affiliated(engine, mandataire.coop_id)  # set directly: the scheduler's sweep starts it
    tick(engine)
    return mandataire, case_of(engine, mandataire.coop_id, CARD.name)


def _asked(engine: Engine, ad: Any, **request: Any) -> tuple[Any, Case]:
    mandataire, case = _offered(engine, ad)
    wanted = {"address": SCHOOL, "school_address": True, "responsible": True, **request}
    trigger = "request" if wanted["school_address"] else "request_elsewhere"
    with engine.transaction() as tx:
        tx.lock(case.id).data = {"request": wanted}
        tx.fire(case.id, trigger, actor=Actor.mandataire(mandataire))
    return mandataire, case_of(engine, mandataire.coop_id, CARD.name)


def test_the_card_is_offered_once_identity_account_and_affiliation_are_there(engine, ad):
    mandataire = banking_done(engine, ad)
    with engine.db.read() as s:  # not affiliated this year yet
        assert s.scalar(select(Case).where(Case.process == CARD.name)) is None
    affiliated(engine, mandataire.coop_id)
    tick(engine)
    case = case_of(engine, mandataire.coop_id, CARD.name)
    assert case.state == "to_order"
    assert CARD.state_by_name[case.state].mandataire_action == "Commander la carte"
    assert steps_of(engine, case.id) == ["notify_mandataire"]


def test_a_card_to_the_school_is_ordered_at_once_and_elsewhere_staff_approve(engine, ad):
    _, at_school = _asked(engine, ad)
    assert at_school.state == "ordering"
    assert steps_of(engine, at_school.id)[-1] == "order_card"

    mandataire, offered = _offered(engine, ad)
    me = Actor.mandataire(mandataire)
    with engine.transaction() as tx:
        tx.lock(offered.id).data = {"request": {"address": SCHOOL, "school_address": True}}
    with pytest.raises(GuardFailed, match="responsable de la carte"):
        fire(engine, offered.id, "request", actor=me)
    home = {"line1": "9 rue Droite", "postal_code": "06300", "city": "Nice", "country": "FRA"}
    with engine.transaction() as tx:
        tx.lock(offered.id).data = {
            "request": {"address": home, "school_address": False, "responsible": True}
        }
    with pytest.raises(GuardFailed, match="doit être approuvée par votre AD"):
        fire(engine, offered.id, "request", actor=me)
    with pytest.raises(GuardFailed, match="Dites pourquoi"):
        fire(engine, offered.id, "request_elsewhere", actor=me)

    _, elsewhere = _asked(
        engine, ad, address=home, school_address=False, reason="École fermée en juillet."
    )
    assert elsewhere.state == "requested"
    with engine.db.read() as s:
        task = s.scalars(select(Task).where(Task.case_id == elsewhere.id)).one()
        assert task.kind == "card_address_review"
    with pytest.raises(GuardFailed, match="Indiquez pourquoi l'adresse est refusée"):
        fire(engine, elsewhere.id, "refuse_address", actor=CLAIRE)
    refused = fire(engine, elsewhere.id, "refuse_address", actor=CLAIRE, reason="À l'école.")
    assert refused.state == "to_order"
    assert "notify_address_refused" in steps_of(engine, elsewhere.id)
    _, again = _asked(engine, ad, address=home, school_address=False, reason="Travaux.")
    assert fire(engine, again.id, "approve_address", actor=CLAIRE).state == "ordering"


def test_swans_statuses_move_the_card_forward_only(engine, ad):
    _, case = _asked(engine, ad)
    assert fire(engine, case.id, SWAN_STATUSES["ConsentPending"]).state == "consent_pending"
    assert fire(engine, case.id, SWAN_STATUSES["Processing"]).state == "processing"
    assert fire(engine, case.id, SWAN_STATUSES["ToActivate"]).state == "shipped"
    with pytest.raises(TransitionNotAllowed):  # a late « Processing »: no step back
        fire(engine, case.id, SWAN_STATUSES["Processing"])
    activated = fire(engine, case.id, SWAN_STATUSES["Activated"])
    assert activated.state == "activated"
    assert steps_of(engine, case.id)[-1] == "notify_activated"
    _, other = _asked(engine, ad)
    assert fire(engine, other.id, SWAN_STATUSES["Canceled"]).state == "cancelled"


def test_consent_printing_and_activation_late_are_stuck_with_their_actions(engine, clock, ad):
    _, case = _asked(engine, ad)
    fire(engine, case.id, "consent_needed")
    clock.advance(timedelta(days=3, minutes=1))
    tick(engine)
    assert steps_of(engine, case.id)[-1] == "send_reminder"
    clock.advance(timedelta(days=4))
    tick(engine)
    late = case_of(engine, case.coop_id, CARD.name)
    assert (late.stuck_reason, late.stuck_action) == ("card_consent_pending", "relaunch_consent")

    fire(engine, case.id, "printing")  # unstuck by leaving
    clock.advance(timedelta(days=1, minutes=1))
    tick(engine)
    assert steps_of(engine, case.id)[-1] == "sync_card"  # polled
    clock.advance(timedelta(days=9))
    tick(engine)
    printing = case_of(engine, case.coop_id, CARD.name)
    assert (printing.stuck_reason, printing.stuck_action) == (
        "card_processing_late",
        "follow_up_card",
    )
    with pytest.raises(GuardFailed, match="Dites ce qui a été fait"):
        fire(engine, case.id, "follow_up_card", actor=CLAIRE)
    followed = fire(engine, case.id, "follow_up_card", actor=CLAIRE, comment="Appel à Swan.")
    assert followed.stuck_reason is None

    fire(engine, case.id, "shipped_by_swan")
    clock.advance(timedelta(days=15, minutes=1))
    tick(engine)
    unused = case_of(engine, case.coop_id, CARD.name)
    assert (unused.state, unused.stuck_reason) == ("shipped", "card_not_activated")
    assert unused.stuck_action == "relaunch_activation"


def test_a_card_back_at_the_ad_is_sent_on_or_handed_over(engine, ad):
    _, case = _asked(engine, ad)
    fire(engine, case.id, "shipped_by_swan")
    with pytest.raises(GuardFailed, match="arrivée à l'AD"):
        fire(engine, case.id, "record_return", actor=CLAIRE)
    back = fire(engine, case.id, "record_return", actor=CLAIRE, received_on="2026-11-20")
    assert (back.state, back.stuck_reason, back.stuck_action) == (
        "returned_to_ad",
        "card_returned_to_ad",
        "resend",
    )
    assert steps_of(engine, case.id)[-1] == "notify_returned"
    resent = fire(engine, case.id, "resend", actor=CLAIRE)
    assert (resent.state, resent.stuck_reason) == ("shipped", None)
    fire(engine, case.id, "record_return", actor=CLAIRE, received_on="2026-11-27")
    assert fire(engine, case.id, "hand_over", actor=CLAIRE).state == "shipped"
    with pytest.raises(TransitionNotAllowed):  # only staff record a return
        fire(engine, case.id, "record_return", actor=SYSTEM, received_on="2026-11-28")


def test_a_cancellation_needs_its_reason(engine, ad):
    _, case = _asked(engine, ad)
    fire(engine, case.id, "printing")
    with pytest.raises(GuardFailed, match="Dites ce qui a été fait"):
        fire(engine, case.id, "cancel", actor=CLAIRE)
    assert fire(engine, case.id, "cancel", actor=CLAIRE, comment="Doublon.").state == "cancelled"
