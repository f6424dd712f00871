"""The kyc steps called directly, against the simulated Swan, on both backends: each run
twice with one side effect, Swan's statuses mapped and never backwards, the polls
catching up a webhook that never came, the emails the mandataire reads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.factories import MandataireFactory
from tests.helpers import invitation_case, text_body
from workers.providers.swan.sandbox import SandboxSwan
from workers.runner import run_step
from workflows import swan_events
from workflows.engine.engine import Actor
from workflows.engine.scheduling import fire_due_timers
from workflows.models import Case, CaseEvent, Email, ProviderResource, Step
from workflows.models.banking import SandboxObject
from workflows.processes.kyc.reasons import reason_text

SYSTEM = Actor.system("test")
STAFF = Actor("staff", 1, "Claire Agent")


class Services:
    """What a step is given, with the SMTP server of the test and the simulated Swan."""

    def __init__(self, settings: Any, engine: Any, smtp_url: str, swan: Any) -> None:
        from workers.providers.mail import make_mailer
        from workflows.links import Links

        self.settings = settings
        self.engine = engine
        self.mailer = make_mailer(smtp_url)
        self.links = Links(settings.secret_key)
        self.swan = swan


@pytest.fixture
def swan(engine, settings) -> SandboxSwan:
    return SandboxSwan(engine.db, engine.clock, base_url=settings.base_url)


@pytest.fixture
def services(settings, engine, smtp_server, swan) -> Services:
    return Services(settings, engine, smtp_server.url, swan)


def activated(engine, ad) -> tuple[int, Any]:
    """A mandataire who chose a password and logged in: the coop's kyc case (started
    by the activation, at ``link_sent``) and the person."""
    person = MandataireFactory(coop__ad=ad, password_hash="argon2-hash-of-the-tests")
    with engine.transaction() as tx:
        invitation_case(tx, person, "sent", "set_password", "first_login")
    with engine.db.read() as s:
        case_id = s.scalars(
            select(Case.id).where(Case.coop_id == person.coop_id, Case.process == "kyc")
        ).one()
    return case_id, person


def pending(engine, case_id: int, name: str) -> int:
    """The step ``name`` of the case queued last."""
    with engine.db.read() as s:
        return s.scalars(
            select(Step.id)
            .where(Step.case_id == case_id, Step.name == name)
            .order_by(Step.id.desc())
            .limit(1)
        ).one()


def run(services, case_id: int, name: str, *, times: int = 1) -> int:
    step_id = pending(services.engine, case_id, name)
    for _ in range(times):
        run_step(services, step_id)
    return step_id


def case_row(engine, case_id: int) -> Case:
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        s.expunge(case)
        return case


def count(engine, model, *where) -> int:
    with engine.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def emails(engine, case_id: int) -> list[Email]:
    with engine.db.read() as s:
        found = list(s.scalars(select(Email).where(Email.case_id == case_id).order_by(Email.id)))
        for email in found:
            s.expunge(email)
        return found


def deliver(engine, events: list[dict[str, str]]) -> list[str]:
    """Swan's webhook events, recorded as ``/webhooks/swan`` does (one transaction each)."""
    outcomes = []
    for event in events:
        with engine.transaction() as tx:
            outcomes.append(swan_events.record(tx, swan_events.parse(event)).outcome)
    return outcomes


def requested(services, engine, ad) -> tuple[int, Any, str]:
    """A kyc case whose membership was requested: the case, the person, the membership."""
    case_id, person = activated(engine, ad)
    run(services, case_id, "request_identification")
    return case_id, person, case_row(engine, case_id).data["membership_id"]


def sync(services, engine, case_id: int) -> str:
    """Run the sync step queued last; the case's state after it."""
    run(services, case_id, "sync_identification")
    return case_row(engine, case_id).state


# request_identification ------------------------------------------------------------------


def test_the_request_run_twice_makes_one_membership_and_sends_one_email(
    services, engine, ad, smtp_server
):
    case_id, person = activated(engine, ad)
    run(services, case_id, "request_identification", times=2)

    assert count(engine, SandboxObject, SandboxObject.kind == "membership") == 1
    assert count(engine, ProviderResource, ProviderResource.kind == "membership") == 1
    assert count(engine, ProviderResource, ProviderResource.kind == "account") == 1
    data = case_row(engine, case_id).data
    assert data["mandataire_id"] == person.id and data["membership_id"].startswith("sbx_mem_")
    assert data["account_id"].startswith("sbx_acc_")
    assert data["identification_url"].startswith(
        f"{services.settings.base_url}/sandbox/swan/identification/{data['membership_id']}"
    )
    assert data["attempt_since"] and data["membership_status"] == "InvitationSent"

    [email] = emails(engine, case_id)
    [message] = smtp_server.to(person.email)
    body = text_body(message)
    assert email.kind == "instructions" and "Vérifiez votre identité" in email.subject
    for words in (
        "carte nationale d'identité ou votre passeport, en cours de validité",
        "smartphone",
        "environ 5 minutes",
        "nouvelle fenêtre",
        f"{services.settings.base_url}/mon-espace/identite",
    ):
        assert words in body.replace("\u00a0", " "), words
    assert "Vérifier mon identité" in email.html_body


def test_on_the_manual_path_the_email_says_the_ads_team_gets_in_touch(
    settings, engine, ad, smtp_server
):
    from workers.providers.swan.manual import ManualSwan

    nobody = ManualSwan(engine.db, engine.clock)
    manual = Services(settings, engine, smtp_server.url, nobody)
    case_id, _ = activated(engine, ad)
    run(manual, case_id, "request_identification", times=2)
    data = case_row(engine, case_id).data
    assert data["identification_url"] is None and data["membership_id"].startswith("man_mem_")
    [email] = emails(engine, case_id)
    assert "vérifie votre identité avec vous : elle vous contactera" in email.text_body.replace(
        "\u00a0", " "
    )
    with engine.transaction() as tx:  # a poll: nothing to read, nothing moves
        tx.fire(case_id, "sync", actor=SYSTEM)
    assert sync(manual, engine, case_id) == "link_sent"


def test_a_relaunch_sends_the_instructions_again_to_the_same_membership(services, engine, ad):
    case_id, _, membership_id = requested(services, engine, ad)
    with engine.transaction() as tx:
        tx.fire(case_id, "relaunch", actor=STAFF)
    run(services, case_id, "request_identification")

    assert case_row(engine, case_id).data["membership_id"] == membership_id
    assert count(engine, SandboxObject, SandboxObject.kind == "membership") == 1
    assert [e.kind for e in emails(engine, case_id)] == ["instructions", "instructions"]


def test_a_timeout_after_swan_made_the_membership_retries_into_the_same_one(
    settings, engine, ad, smtp_server
):
    """Swan created the membership and its answer was lost: the retried step finds it."""
    lost = SandboxSwan(engine.db, engine.clock, base_url=settings.base_url, timeout_rate=1.0)
    case_id, _ = activated(engine, ad)
    step_id = run(
        Services(settings, engine, smtp_server.url, lost), case_id, "request_identification"
    )
    with engine.db.read() as s:
        step = s.get(Step, step_id)
        assert step.status == "pending" and "n'a pas répondu à temps" in step.last_error
    engine.clock.advance(timedelta(minutes=10))  # past the retry's backoff
    swan = SandboxSwan(engine.db, engine.clock, base_url=settings.base_url)
    run_step(Services(settings, engine, smtp_server.url, swan), step_id)

    assert count(engine, SandboxObject, SandboxObject.kind == "membership") == 1
    assert len(emails(engine, case_id)) == 1
    assert case_row(engine, case_id).data["membership_id"].startswith("sbx_mem_")


# sync_identification ---------------------------------------------------------------------


def test_swans_statuses_move_the_case_to_verified(services, engine, ad, swan, smtp_server):
    case_id, person, membership_id = requested(services, engine, ad)

    assert deliver(engine, swan.simulate(membership_id, "started")) == ["applied"]
    assert sync(services, engine, case_id) == "in_progress"
    deliver(engine, swan.simulate(membership_id, "pending"))
    assert sync(services, engine, case_id) == "pending_review"
    deliver(engine, swan.simulate(membership_id, "valid"))
    assert sync(services, engine, case_id) == "verified"

    case = case_row(engine, case_id)
    assert (case.data["swan_status"], case.data["membership_status"]) == ("Valid", "Enabled")
    run(services, case_id, "notify_verified", times=2)
    assert [e.kind for e in emails(engine, case_id)] == ["instructions", "verified"]
    assert "Swan a vérifié votre identité" in text_body(smtp_server.to(person.email)[-1])


def test_a_sync_run_twice_moves_the_case_once(services, engine, ad, swan):
    case_id, _, membership_id = requested(services, engine, ad)
    deliver(engine, swan.simulate(membership_id, "pending"))
    run(services, case_id, "sync_identification", times=2)
    with engine.db.read() as s:
        moves = s.scalars(
            select(CaseEvent.trigger).where(
                CaseEvent.case_id == case_id, CaseEvent.trigger == "submitted"
            )
        ).all()
    assert moves == ["submitted"] and case_row(engine, case_id).state == "pending_review"


def test_a_status_behind_the_case_never_moves_it_back(services, engine, ad, swan):
    """Two syncs queued by two events: the first reads « Pending », the second (its
    answer arriving as Swan's page moved on) too: the case stays where it is; and a
    sync queued at ``in_progress`` finding the same « Started » does nothing."""
    case_id, _, membership_id = requested(services, engine, ad)
    deliver(engine, swan.simulate(membership_id, "started"))
    assert sync(services, engine, case_id) == "in_progress"
    with engine.transaction() as tx:  # a poll: Swan still says Started
        tx.fire(case_id, "sync", actor=SYSTEM)
    assert sync(services, engine, case_id) == "in_progress"
    deliver(engine, swan.simulate(membership_id, "pending"))
    assert sync(services, engine, case_id) == "pending_review"
    with engine.db.read() as s:
        moved = s.scalars(
            select(CaseEvent.trigger).where(
                CaseEvent.case_id == case_id, CaseEvent.from_state != CaseEvent.to_state
            )
        ).all()
    assert moved.count("started") == 1 and moved.count("submitted") == 1


def test_a_sync_before_the_membership_is_requested_does_nothing(services, engine, ad):
    case_id, _ = activated(engine, ad)
    with engine.transaction() as tx:
        tx.fire(case_id, "sync", actor=SYSTEM)
    assert sync(services, engine, case_id) == "link_sent"
    assert count(engine, SandboxObject, SandboxObject.kind == "membership") == 0


def test_a_refusal_tells_why_and_what_to_do_and_a_second_one_calls_for_staff(
    services, engine, ad, swan, smtp_server, clock
):
    case_id, person, membership_id = requested(services, engine, ad)
    deliver(engine, swan.simulate(membership_id, "invalid", reasons=["ExpiredDocument"]))
    assert sync(services, engine, case_id) == "invalid"

    case = case_row(engine, case_id)
    assert case.data["reasons"] == ["ExpiredDocument"] and case.data["refusals"] == 1
    assert case.stuck_reason is None  # a first refusal: the mandataire tries again
    run(services, case_id, "notify_refused", times=2)
    refused = [e for e in emails(engine, case_id) if e.kind == "refused"]
    assert len(refused) == 1
    body = refused[0].text_body.replace("\u00a0", " ")
    explained = reason_text("ExpiredDocument")
    assert explained.what in body and explained.todo in body
    assert "Recommencer la vérification" in body and "va vous contacter" not in body

    # « Recommencer »: the refused identification no longer counts.
    clock.advance(timedelta(minutes=5))
    with engine.transaction() as tx:
        tx.fire(case_id, "retry", actor=Actor.mandataire(person))
    with engine.transaction() as tx:  # a poll before the instructions step has run
        tx.fire(case_id, "sync", actor=SYSTEM)
    assert sync(services, engine, case_id) == "link_sent"
    run(services, case_id, "request_identification")
    assert count(engine, SandboxObject, SandboxObject.kind == "membership") == 1
    clock.advance(timedelta(minutes=1))
    deliver(engine, swan.simulate(membership_id, "started"))
    assert sync(services, engine, case_id) == "in_progress"
    deliver(engine, swan.simulate(membership_id, "invalid", reasons=["NonMatchingIdentity"]))
    assert sync(services, engine, case_id) == "invalid"

    case = case_row(engine, case_id)
    assert case.data["refusals"] == 2 and case.stuck_reason == "kyc_refused_twice"
    assert case.stuck_message == (
        "La vérification d'identité a été refusée 2 fois (dernier motif : "
        f"{reason_text('NonMatchingIdentity').what})."
    )
    run(services, case_id, "notify_refused")
    second = [e for e in emails(engine, case_id) if e.kind == "refused"][-1]
    assert "2e refus" in second.text_body and "va vous contacter" in second.text_body


def test_a_binding_mismatch_is_a_case_for_staff_named_once(services, engine, ad, swan):
    case_id, _, membership_id = requested(services, engine, ad)
    deliver(engine, swan.simulate(membership_id, "pending"))
    assert sync(services, engine, case_id) == "pending_review"
    fields = ["lastNameMatchError", "birthDateMatchError"]
    deliver(engine, swan.simulate(membership_id, "binding_error", fields=fields))
    assert sync(services, engine, case_id) == "pending_review"

    case = case_row(engine, case_id)
    assert case.stuck_reason == "kyc_binding_mismatch" and case.data["mismatch"] == fields
    assert case.stuck_message == (
        "L'identité vérifiée par Swan ne correspond pas à la fiche du mandataire : "
        "le nom et la date de naissance."
    )
    with engine.transaction() as tx:  # a poll later: Swan says the same
        tx.fire(case_id, "sync", actor=SYSTEM)
    sync(services, engine, case_id)
    assert count(engine, CaseEvent, CaseEvent.trigger == "binding_mismatch") == 1


def test_an_identification_left_unfinished_expires(services, engine, ad, swan):
    case_id, _, membership_id = requested(services, engine, ad)
    deliver(engine, swan.simulate(membership_id, "started"))
    assert sync(services, engine, case_id) == "in_progress"
    deliver(engine, swan.simulate(membership_id, "expired"))
    assert sync(services, engine, case_id) == "expired"


def test_a_relaunch_keeps_the_identification_the_mandataire_began(services, engine, ad, swan):
    """Staff relaunch while the mandataire is half-way: what they began still counts."""
    case_id, _, membership_id = requested(services, engine, ad)
    deliver(engine, swan.simulate(membership_id, "started"))
    assert sync(services, engine, case_id) == "in_progress"
    engine.clock.advance(timedelta(days=3))
    with engine.transaction() as tx:
        tx.fire(case_id, "relaunch", actor=STAFF)
    run(services, case_id, "request_identification")
    deliver(engine, swan.simulate(membership_id, "pending"))
    assert sync(services, engine, case_id) == "pending_review"


def test_the_polls_catch_up_a_status_whose_webhook_never_came(services, engine, ad, swan, clock):
    case_id, _, membership_id = requested(services, engine, ad)
    swan.simulate(membership_id, "pending")  # its events are lost
    assert fire_due_timers(engine) == 0
    clock.advance(timedelta(minutes=16))  # poll_1
    assert fire_due_timers(engine) == 1
    assert sync(services, engine, case_id) == "pending_review"
    swan.simulate(membership_id, "valid")  # lost again
    clock.advance(timedelta(hours=2, minutes=1))  # poll_2 of pending_review
    fire_due_timers(engine)
    assert sync(services, engine, case_id) == "verified"


def test_swan_unavailable_is_retried_and_nothing_moves_meanwhile(
    settings, engine, ad, smtp_server, services, swan
):
    case_id, _, membership_id = requested(services, engine, ad)
    deliver(engine, swan.simulate(membership_id, "pending"))
    down = SandboxSwan(engine.db, engine.clock, base_url=settings.base_url, error_rate=1.0)
    step_id = run(Services(settings, engine, smtp_server.url, down), case_id, "sync_identification")
    with engine.db.read() as s:
        step = s.get(Step, step_id)
        assert step.status == "pending" and "HTTP 500" in step.last_error
    assert case_row(engine, case_id).state == "link_sent"
    engine.clock.advance(timedelta(minutes=10))
    run_step(services, step_id)
    assert case_row(engine, case_id).state == "pending_review"


# Reminders -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moves", "words"),
    [
        ((), "attend toujours la vérification de votre identité"),
        (("started",), "terminez-la sur votre smartphone"),
        (("started", "expired"), "recommencez-la depuis votre espace"),
    ],
    ids=["link_sent", "in_progress", "expired"],
)
def test_a_reminder_says_what_is_left_to_do_once(services, engine, ad, swan, moves, words):
    case_id, _, membership_id = requested(services, engine, ad)
    for move in moves:
        deliver(engine, swan.simulate(membership_id, move))
        sync(services, engine, case_id)
    with engine.transaction() as tx:
        tx.fire(case_id, "remind", actor=SYSTEM)
    run(services, case_id, "send_reminder", times=2)
    [reminder] = [e for e in emails(engine, case_id) if e.kind == "reminder"]
    assert reminder.subject.startswith("Rappel") and words in reminder.text_body


def test_a_sync_overtaken_by_another_leaves_the_case_to_it(services, engine, ad, swan):
    """Two syncs queued together; the second moves the case while the first is still
    waiting for Swan's answer: the first notes nothing and fires nothing (an event
    meanwhile queues a sync of its own)."""
    from workers.context import StepContext
    from workers.steps.kyc import sync_identification
    from workflows.engine.steps import claim

    case_id, _, membership_id = requested(services, engine, ad)
    for _ in range(2):
        with engine.transaction() as tx:
            tx.fire(case_id, "sync", actor=SYSTEM)
    first, second = sorted(s.id for s in steps_named(engine, case_id, "sync_identification"))
    slow = claim(engine, first)  # taken by a worker, Swan not answered yet
    assert slow is not None
    swan.simulate(membership_id, "pending")
    run_step(services, second)
    noted = case_row(engine, case_id).data
    assert noted["swan_status"] == "Pending"
    swan.simulate(membership_id, "valid")

    outcome = sync_identification(StepContext(slow, services))
    assert outcome.trigger is None and "skipped" in outcome.result
    assert case_row(engine, case_id).data == noted


def steps_named(engine, case_id: int, name: str) -> list[Step]:
    with engine.db.read() as s:
        found = list(s.scalars(select(Step).where(Step.case_id == case_id, Step.name == name)))
        for step in found:
            s.expunge(step)
        return found
