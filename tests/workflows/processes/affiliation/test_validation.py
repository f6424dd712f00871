"""The staff's side of an affiliation (``validation``), on both backends: each item
checked by a named staff member and audited, ``validate`` fired with the last item only,
a payment that is not the fee refused, the change form required only with a change, the
affiliation sent back with a comment, a late coop granted a new deadline. A refusal
changes nothing: no event, same version, same data."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tests.helpers import active_account
from tests.workflows.processes.affiliation.staff_cases import (
    CLAIRE,
    FEE_CENTS,
    NEW_MANDATAIRE,
    PAUL,
    awaiting,
    draft_of,
    events,
    read_case,
)
from workflows.engine.errors import ValidationError
from workflows.engine.scheduling import tick
from workflows.models import Case, Mandataire, Timer
from workflows.processes.affiliation import validation
from workflows.processes.affiliation.validation import (
    AlreadyChecked,
    AmountMismatch,
    NotAwaiting,
    NotRequired,
)

PAID = {"amount_cents": FEE_CENTS, "received_on": date(2026, 9, 7), "reference": "VIR 123"}


def _check(engine, case_id, item, actor=CLAIRE, details=None, comment=None):  # type: ignore[no-untyped-def]
    with engine.transaction() as tx:
        return validation.record_check(
            tx,
            case_id,
            item,
            actor,
            PAID if details is None and item == "payment" else details or {},
            comment,
        ).validated


def _unchanged(engine, case: Case) -> None:  # type: ignore[no-untyped-def]
    now = read_case(engine, case.id)
    assert (now.state, now.version, now.data) == (case.state, case.version, case.data)


def test_each_item_by_a_named_staff_member_audited_the_last_validates(engine, ad):
    case = awaiting(engine, ad)
    assert _check(engine, case.id, "payment", CLAIRE, comment="Virement vu sur le compte.") is False
    middle = read_case(engine, case.id)
    assert middle.state == "awaiting_validation"
    check = dict(middle.data["checks"]["payment"])
    # The movable clock runs with real time from 7:30 UTC.
    assert check.pop("at").startswith("2026-09-07T07:3")
    assert check == {
        "by": "Claire Agent",
        "by_id": 1,
        "amount_cents": FEE_CENTS,
        "received_on": "2026-09-07",
        "reference": "VIR 123",
        "source": "manual",
    }
    assert not events(engine, case.id, "validate")

    assert _check(engine, case.id, "commitment", PAUL, {"note": "Reçu par courrier."}) is True
    done = read_case(engine, case.id)
    assert done.state == "validated"
    assert done.data["checks"]["commitment"]["by"] == "Paul Trésorier"
    assert done.data["checks"]["commitment"]["note"] == "Reçu par courrier."
    payment, commitment, validate = events(
        engine, case.id, "check_payment", "check_commitment", "validate"
    )
    assert (payment.actor, payment.trigger) == ("staff:1 Claire Agent", "check_payment")
    assert payment.payload == {
        "amount_cents": FEE_CENTS,
        "received_on": "2026-09-07",
        "reference": "VIR 123",
        "source": "manual",
    }
    assert payment.comment is not None and "Virement vu sur le compte." in payment.comment
    assert "137" not in payment.comment and "VIR 123" in payment.comment
    assert (commitment.actor, commitment.payload) == (
        "staff:2 Paul Trésorier",
        {"note": "Reçu par courrier."},
    )
    assert (validate.actor, validate.from_state, validate.to_state) == (
        "staff:2 Paul Trésorier",
        "awaiting_validation",
        "validated",
    )
    assert len(events(engine, case.id, "validate")) == 1


def test_a_payment_that_is_not_the_fee_is_refused_and_changes_nothing(engine, ad):
    case = awaiting(engine, ad)
    with pytest.raises(AmountMismatch) as refused:
        _check(engine, case.id, "payment", details={**PAID, "amount_cents": 13000})
    assert str(refused.value) == (
        "Le montant reçu (130,00\u00a0€) ne correspond pas au montant de l'adhésion "
        "(136,99\u00a0€)."
    )
    _unchanged(engine, case)
    assert not events(engine, case.id, "check_payment")


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({**PAID, "received_on": date(2026, 9, 8)}, "ne peut pas être dans le futur"),
        ({**PAID, "received_on": date(2025, 12, 31)}, "antérieure à l'année scolaire"),
        ({**PAID, "received_on": None}, "date de réception"),
        ({**PAID, "reference": "  "}, "référence du paiement"),
        ({**PAID, "reference": "R" * 101}, "Référence trop longue"),
        ({**PAID, "amount_cents": 0}, "montant reçu"),
        ({**PAID, "amount_cents": "136,99"}, "montant reçu"),
    ],
)
def test_a_payment_with_bad_details_is_refused(engine, ad, details, message):
    case = awaiting(engine, ad)
    with pytest.raises(ValidationError, match=message):
        _check(engine, case.id, "payment", details=details)
    _unchanged(engine, case)


def test_an_item_checked_twice_is_refused_naming_who_checked_it(engine, ad):
    case = awaiting(engine, ad)
    _check(engine, case.id, "payment")
    before = read_case(engine, case.id)
    with pytest.raises(AlreadyChecked, match="déjà validé par Claire Agent le 07/09/2026"):
        _check(engine, case.id, "payment", PAUL)
    _unchanged(engine, before)


def test_no_check_outside_awaiting_validation(engine, ad):
    person = active_account(engine, ad)
    case = read_case(engine, draft_of(engine, person.coop_id))
    with pytest.raises(NotAwaiting, match="« Adhésion à compléter par le mandataire »"):
        _check(engine, case.id, "commitment")
    _unchanged(engine, case)


def test_the_change_form_only_with_a_change_and_then_it_is_needed(engine, ad):
    plain = awaiting(engine, ad)
    with pytest.raises(NotRequired, match="Aucun changement"):
        _check(engine, plain.id, "change_form")
    _unchanged(engine, plain)

    changed = awaiting(engine, ad, NEW_MANDATAIRE)
    assert _check(engine, changed.id, "payment") is False
    assert _check(engine, changed.id, "commitment", PAUL) is False
    assert read_case(engine, changed.id).state == "awaiting_validation"
    assert _check(engine, changed.id, "change_form", CLAIRE, {"note": "Fiche mise à jour."})
    assert read_case(engine, changed.id).state == "validated"
    # The validation's effect: the new mandataire declared is invited.
    with engine.db.read() as session:
        invited = session.scalars(
            select(Mandataire).where(Mandataire.email == NEW_MANDATAIRE.email)
        ).one()
        assert invited.coop_id == changed.coop_id


def test_sent_back_with_its_comment_the_checks_dropped(engine, ad):
    case = awaiting(engine, ad)
    _check(engine, case.id, "payment")
    before = read_case(engine, case.id)
    with engine.transaction() as tx, pytest.raises(ValidationError, match="commentaire est vide"):
        validation.send_back(tx, case.id, CLAIRE, "  ")
    _unchanged(engine, before)
    with engine.transaction() as tx:
        validation.send_back(tx, case.id, CLAIRE, "La classe de CE2 compte 24 élèves.")
    back = read_case(engine, case.id)
    assert back.state == "returned"
    assert back.data["returned_comment"] == "La classe de CE2 compte 24 élèves."
    assert back.data["checks"] == {}
    [event] = events(engine, case.id, "send_back")
    assert event.payload == {"comment": "La classe de CE2 compte 24 élèves."}
    assert event.actor == "staff:1 Claire Agent"


def _overdue(engine, clock, ad) -> Case:  # type: ignore[no-untyped-def]
    person = active_account(engine, ad)
    case_id = draft_of(engine, person.coop_id)
    clock.advance(datetime(2026, 10, 1, 8, 0, tzinfo=UTC) - clock.now())
    tick(engine)
    case = read_case(engine, case_id)
    assert case.state == "overdue"
    return case


def test_a_new_deadline_for_an_overdue_coop_and_its_timers(engine, clock, ad):
    case = _overdue(engine, clock, ad)
    with engine.transaction() as tx:
        validation.extend(tx, case.id, PAUL, date(2026, 10, 31), "Directrice en congé.")
    now = read_case(engine, case.id)
    assert (now.state, now.data["deadline"], now.stuck_reason) == ("draft", "2026-10-31", None)
    [event] = events(engine, case.id, "extend")
    assert event.payload == {"deadline": "2026-10-31"}
    assert event.comment == "Délai accordé jusqu'au 31/10/2026. Directrice en congé."
    with engine.db.read() as session:
        timers = dict(
            session.execute(
                select(Timer.name, Timer.due_at).where(
                    Timer.case_id == case.id, Timer.closed_at.is_(None)
                )
            ).all()
        )
    # 31 October ends at midnight in Paris (UTC+1 by then); the reminders at 9:00 Paris.
    assert timers == {
        "reminder_15": datetime(2026, 10, 16, 7, 0, tzinfo=UTC),
        "reminder_5": datetime(2026, 10, 26, 8, 0, tzinfo=UTC),
        "deadline": datetime(2026, 10, 31, 23, 0, tzinfo=UTC),
    }


@pytest.mark.parametrize(
    ("deadline", "message"),
    [
        (date(2026, 10, 1), "après aujourd'hui"),
        (date(2026, 9, 30), "après aujourd'hui"),
        (date(2027, 9, 1), "dans l'année scolaire 2026-2027"),
    ],
)
def test_a_deadline_not_after_today_or_past_the_year_is_refused(
    engine, clock, ad, deadline, message
):
    case = _overdue(engine, clock, ad)
    with engine.transaction() as tx, pytest.raises(ValidationError, match=message):
        validation.extend(tx, case.id, PAUL, deadline)
    _unchanged(engine, case)


def test_no_deadline_for_a_submitted_affiliation(engine, ad):
    case = awaiting(engine, ad)
    with engine.transaction() as tx, pytest.raises(NotAwaiting, match="en retard"):
        validation.extend(tx, case.id, PAUL, date(2026, 10, 31))
    _unchanged(engine, case)
