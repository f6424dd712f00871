"""The simulated Swan, on both backends: memberships and their identifications as Swan
moves them, asked twice the same answer, the moves Swan would refuse, the faults it
injects (seeded) and the outage seen by every instance on one database."""

from __future__ import annotations

import random
import threading
import time
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from workers.providers.swan.errors import SwanRejected, SwanUnavailable
from workers.providers.swan.interface import (
    IdentificationStatus,
    MembershipStatus,
    NewMember,
)
from workers.providers.swan.sandbox import SandboxSwan, outage_until, set_outage
from workflows.engine.clock import MovableClock
from workflows.engine.db import Database
from workflows.engine.errors import PermanentStepError, TransientStepError
from workflows.models.banking import SandboxObject

BASE = "http://coopflow.test"
GOOD_IBAN = "FR7630006000011234567890189"
OTHER_IBAN = "FR7610107001011234567890129"


def member(email: str = "helene.dupre@ac-nice.fr", coop: str = "0060101A") -> NewMember:
    return NewMember(
        account_id=None,
        email=email,
        first_name="Hélène",
        last_name="Dupré",
        birth_date=date(1984, 3, 12),
        coop_ref=coop,
    )


@pytest.fixture
def swan(db: Database, clock: MovableClock) -> SandboxSwan:
    return SandboxSwan(db, clock, base_url=BASE)


def rows(db: Database, kind: str) -> int:
    with db.read() as session:
        query = select(func.count()).select_from(SandboxObject).where(SandboxObject.kind == kind)
        return int(session.scalar(query) or 0)


# Memberships ---------------------------------------------------------------------------


def test_a_new_member_gets_a_membership_on_the_coops_account(swan, db):
    first = swan.add_member(member())
    assert first.id.startswith("sbx_mem_") and first.account_id.startswith("sbx_acc_")
    assert first.status == MembershipStatus.INVITATION_SENT
    assert first.email == "helene.dupre@ac-nice.fr" and first.identifications == ()
    colleague = swan.add_member(member("karim.benali@ac-nice.fr"))
    elsewhere = swan.add_member(member(coop="0060102B"))
    assert colleague.account_id == first.account_id  # one account per coop
    assert elsewhere.account_id != first.account_id and elsewhere.id != first.id
    assert swan.membership(first.id) == first
    assert rows(db, "account") == 2 and rows(db, "membership") == 3


def test_a_retried_add_finds_the_membership_of_the_same_email(swan, db):
    first = swan.add_member(member())
    again = swan.add_member(member(" Helene.Dupre@AC-NICE.fr "))
    named = swan.add_member(
        NewMember(first.account_id, "helene.dupre@ac-nice.fr", "Hélène", "Dupré")
    )
    assert again.id == named.id == first.id
    assert rows(db, "membership") == 1


def test_adds_running_together_make_one_membership(db, clock):
    """Two deliveries of one step at the same instant, in separate engines (processes)."""
    found: list[str] = []
    databases = [Database(str(db.url.render_as_string(hide_password=False))) for _ in range(4)]

    def add(database: Database) -> None:
        found.append(SandboxSwan(database, clock, base_url=BASE).add_member(member()).id)

    threads = [threading.Thread(target=add, args=(d,)) for d in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for database in databases:
        database.dispose()
    assert len(found) == 4 and len(set(found)) == 1
    assert rows(db, "membership") == 1 and rows(db, "account") == 1


@pytest.mark.parametrize(
    ("given", "code", "fields"),
    [
        (NewMember(None, "", "Hélène", "Dupré", coop_ref="1"), "ValidationRejection", ("email",)),
        (
            NewMember(None, "h@ac-nice.fr", " ", "Dupré", coop_ref="1"),
            "ValidationRejection",
            ("restrictedTo.firstName",),
        ),
        (NewMember(None, "h@ac-nice.fr", "Hélène", "Dupré"), "ValidationRejection", ("accountId",)),
        (NewMember("sbx_acc_inconnu", "h@ac-nice.fr", "Hélène", "Dupré"), "NotFoundRejection", ()),
    ],
    ids=["no-email", "no-first-name", "no-account", "unknown-account"],
)
def test_a_membership_swan_would_refuse_is_refused_for_good(swan, db, given, code, fields):
    with pytest.raises(SwanRejected) as refused:
        swan.add_member(given)
    assert isinstance(refused.value, PermanentStepError)
    assert refused.value.code == code and refused.value.fields == fields
    assert "Swan (bac à sable)" in str(refused.value)
    assert rows(db, "membership") == 0


def test_an_unknown_membership_is_refused(swan):
    with pytest.raises(SwanRejected, match="adhésion inconnue"):
        swan.membership("sbx_mem_0000000000000000")


def test_the_identification_page_is_the_simulators(swan):
    membership = swan.add_member(member())
    url = swan.identification_url(membership, f"{BASE}/mon-espace/identite")
    assert url == (
        f"{BASE}/sandbox/swan/identification/{membership.id}"
        "?redirect=http%3A%2F%2Fcoopflow.test%2Fmon-espace%2Fidentite"
    )


# Identifications -----------------------------------------------------------------------


def check_events(events, membership_id, types, now):
    assert [e["eventType"] for e in events] == types
    for event in events:
        assert set(event) == {"eventType", "eventId", "eventDate", "projectId", "resourceId"}
        assert event["projectId"] == "sandbox" and event["resourceId"] == membership_id
        assert event["eventDate"].endswith("Z")
        moment = datetime.fromisoformat(event["eventDate"])
        assert abs(moment - now) < timedelta(seconds=1)


def test_an_identification_goes_started_pending_valid(swan, clock):
    membership = swan.add_member(member())
    begun = clock.now()
    events = swan.simulate(membership.id, "started")
    check_events(events, membership.id, ["AccountMembership.Updated"], begun)
    (started,) = swan.membership(membership.id).identifications
    assert started.status == IdentificationStatus.STARTED
    assert abs(started.created_at - begun) < timedelta(seconds=1)

    clock.advance(timedelta(minutes=4))
    events += swan.simulate(membership.id, "pending")
    assert swan.membership(membership.id).identifications[0].status == "Pending"
    clock.advance(timedelta(hours=2))
    bound = swan.simulate(membership.id, "valid")
    check_events(bound, membership.id, ["AccountMembership.Bound"], clock.now())
    now = swan.membership(membership.id)
    assert now.status == MembershipStatus.ENABLED
    assert [i.status for i in now.identifications] == [IdentificationStatus.VALID]
    assert now.identifications[0].id == started.id  # the same attempt, carried through
    assert len({e["eventId"] for e in events + bound}) == 3


def test_a_refusal_carries_swans_reasons_and_a_new_attempt_comes_first(swan, clock):
    membership = swan.add_member(member())
    events = swan.simulate(membership.id, "invalid", reasons=["InsufficientDocumentReadability"])
    assert len(events) == 2  # begun then refused: two changes, two events
    (refused,) = swan.membership(membership.id).identifications
    assert refused.status == IdentificationStatus.INVALID
    assert refused.reasons == ("InsufficientDocumentReadability",)

    clock.advance(timedelta(days=1))
    retry_since = clock.now()
    swan.simulate(membership.id, "started")
    swan.simulate(membership.id, "invalid")
    now = swan.membership(membership.id)
    assert [i.reasons for i in now.identifications] == [
        ("ExpiredDocument",),  # Swan's reason when none is said
        ("InsufficientDocumentReadability",),
    ]
    latest = now.latest_since(retry_since)
    assert latest is not None and latest.id != refused.id
    assert now.status == MembershipStatus.INVITATION_SENT


def test_a_verified_person_who_is_not_the_expected_one_is_a_binding_error(swan):
    membership = swan.add_member(member())
    swan.simulate(membership.id, "pending")
    events = swan.simulate(
        membership.id, "binding_error", fields=["birthDateMatchError", "lastNameMatchError"]
    )
    assert [e["eventType"] for e in events] == ["AccountMembership.Updated"]
    now = swan.membership(membership.id)
    assert now.status == MembershipStatus.BINDING_USER_ERROR
    assert now.mismatches == ("lastNameMatchError", "birthDateMatchError")  # Swan's order
    assert now.identifications[0].status == IdentificationStatus.VALID
    # Staff had the names corrected; the person verifies again and binds.
    swan.simulate(membership.id, "valid")
    again = swan.membership(membership.id)
    assert again.status == MembershipStatus.ENABLED and again.mismatches == ()
    assert len(again.identifications) == 2


def test_a_started_identification_expires_or_is_canceled(swan):
    membership = swan.add_member(member())
    swan.simulate(membership.id, "started")
    assert swan.simulate(membership.id, "started") == []  # goes on with the same one
    swan.simulate(membership.id, "expired")
    swan.simulate(membership.id, "pending")  # a new attempt, begun implicitly
    swan.simulate(membership.id, "canceled")
    statuses = [i.status for i in swan.membership(membership.id).identifications]
    assert statuses == [IdentificationStatus.CANCELED, IdentificationStatus.EXPIRED]


@pytest.mark.parametrize(
    ("before", "outcome", "kwargs", "message"),
    [
        ((), "expired", {}, "aucune vérification en cours"),
        ((), "canceled", {}, "aucune vérification en cours"),
        (("pending",), "expired", {}, "n'expirent pas"),
        (("pending",), "started", {}, "Swan les examine"),
        (("valid",), "started", {}, "déjà vérifiée"),
        (("valid",), "invalid", {}, "déjà vérifiée"),
        ((), "approved", {}, "geste inconnu"),
        ((), "invalid", {"reasons": ["BadLuck"]}, "motif de refus inconnu : BadLuck"),
        ((), "binding_error", {}, "précisez ce qui diffère"),
        ((), "binding_error", {"fields": ["shoeSizeMatchError"]}, "précisez ce qui diffère"),
    ],
)
def test_a_move_swan_would_not_allow_is_refused_and_changes_nothing(
    swan, before, outcome, kwargs, message
):
    membership = swan.add_member(member())
    for move in before:
        swan.simulate(membership.id, move)
    seen = swan.membership(membership.id)
    with pytest.raises(SwanRejected, match=message):
        swan.simulate(membership.id, outcome, **kwargs)
    assert swan.membership(membership.id) == seen


def test_documents_sent_twice_change_nothing_the_second_time(swan):
    membership = swan.add_member(member())
    assert len(swan.simulate(membership.id, "pending")) == 2
    assert swan.simulate(membership.id, "pending") == []
    assert len(swan.membership(membership.id).identifications) == 1


def test_a_move_on_an_unknown_membership_is_refused(swan):
    with pytest.raises(SwanRejected, match="adhésion inconnue"):
        swan.simulate("sbx_mem_0000000000000000", "started")


# Beneficiaries -------------------------------------------------------------------------


def test_a_certified_account_asked_twice_is_the_same_beneficiary(swan, db):
    account = swan.add_member(member()).account_id
    first = swan.certify_account(account, GOOD_IBAN, "OCCE COOP JEAN JAURES")
    again = swan.certify_account(account, "fr76 3000 6000 0112 3456 7890 189", "OCCE COOP J. J.")
    assert again == first
    assert first.id.startswith("sbx_ben_") and first.status == "Enabled"
    assert first.iban == GOOD_IBAN and first.name == "OCCE COOP JEAN JAURES"
    other = swan.certify_account(account, OTHER_IBAN, "OCCE COOP JEAN JAURES")
    assert other.id != first.id
    assert rows(db, "beneficiary") == 2


@pytest.mark.parametrize(
    ("account", "iban", "holder", "message"),
    [
        (None, GOOD_IBAN, "OCCE", "aucun compte"),
        ("sbx_acc_inconnu", GOOD_IBAN, "OCCE", "compte inconnu"),
        ("mine", "FR7630006000011234567890188", "OCCE", "IBAN refusé"),
        ("mine", GOOD_IBAN, "  ", "nom du bénéficiaire"),
    ],
)
def test_a_beneficiary_swan_would_refuse_is_refused(swan, db, account, iban, holder, message):
    mine = swan.add_member(member()).account_id
    with pytest.raises(SwanRejected, match=message) as refused:
        swan.certify_account(mine if account == "mine" else account, iban, holder)
    assert GOOD_IBAN not in str(refused.value)  # never a full IBAN in a message
    assert rows(db, "beneficiary") == 0


# Faults --------------------------------------------------------------------------------


def test_a_500_fails_before_the_work(db, clock):
    failing = SandboxSwan(db, clock, base_url=BASE, error_rate=1.0)
    with pytest.raises(SwanUnavailable, match="HTTP 500") as failed:
        failing.add_member(member())
    assert isinstance(failed.value, TransientStepError)
    assert not failed.value.uncertain and failed.value.retry_after is None
    assert rows(db, "membership") == 0


def test_a_429_says_when_to_come_back(db, clock):
    failing = SandboxSwan(db, clock, base_url=BASE, too_many_rate=1.0)
    with pytest.raises(SwanUnavailable, match="HTTP 429") as failed:
        failing.certify_account("sbx_acc_x", GOOD_IBAN, "OCCE")
    assert failed.value.retry_after == 1.0 and not failed.value.uncertain


def test_a_timeout_comes_after_swan_did_the_work(db, clock, swan):
    slow = SandboxSwan(db, clock, base_url=BASE, timeout_rate=1.0)
    with pytest.raises(SwanUnavailable, match="pas répondu à temps") as failed:
        slow.add_member(member())
    assert failed.value.uncertain
    assert rows(db, "membership") == 1  # it reached Swan
    retried = swan.add_member(member())  # the step's next attempt finds it
    assert rows(db, "membership") == 1
    with pytest.raises(SwanUnavailable):
        slow.certify_account(retried.account_id, GOOD_IBAN, "OCCE")
    assert swan.certify_account(retried.account_id, GOOD_IBAN, "OCCE").status == "Enabled"
    assert rows(db, "beneficiary") == 1


def test_the_rates_draw_each_fault_about_as_often_as_set(db, clock, swan):
    known = swan.add_member(member()).id
    flaky = SandboxSwan(
        db,
        clock,
        base_url=BASE,
        error_rate=0.2,
        too_many_rate=0.1,
        timeout_rate=0.1,
        rng=random.Random(15),
    )
    seen = {"500": 0, "429": 0, "timeout": 0, "ok": 0}
    for _ in range(500):
        try:
            assert flaky.membership(known).id == known
            seen["ok"] += 1
        except SwanUnavailable as failed:
            kind = "timeout" if failed.uncertain else "429" if failed.retry_after else "500"
            seen[kind] += 1
    assert 70 <= seen["500"] <= 130 and 25 <= seen["429"] <= 75 and 25 <= seen["timeout"] <= 75
    assert 250 <= seen["ok"] <= 350
    calm = SandboxSwan(db, clock, base_url=BASE, rng=random.Random(15))
    for _ in range(50):
        calm.membership(known)  # rates of 0: never a fault


def test_every_call_waits_the_latency(db, clock):
    waits: list[float] = []
    slow = SandboxSwan(db, clock, base_url=BASE, latency_ms=250, sleep=waits.append)
    membership = slow.add_member(member())
    slow.membership(membership.id)
    assert waits == [0.25, 0.25]
    really = SandboxSwan(db, clock, base_url=BASE, latency_ms=30)
    started = time.monotonic()
    really.membership(membership.id)
    assert time.monotonic() - started >= 0.03


def test_an_outage_is_seen_by_every_instance_on_the_database(db, clock, swan):
    """Two engines on one database, as a worker and the fault suite in two processes."""
    known = swan.add_member(member()).id
    other_db = Database(db.url.render_as_string(hide_password=False))
    other = SandboxSwan(other_db, clock, base_url=BASE)
    try:
        until = clock.now() + timedelta(minutes=10)
        set_outage(other_db, until)
        assert outage_until(db) == until
        failures = []
        for _ in range(4):
            with pytest.raises(SwanUnavailable, match="panne simulée jusqu'au") as failed:
                swan.membership(known)
            failures.append(failed.value.uncertain)
        assert failures == [False, True, False, True]  # 500, timeout, 500, timeout
        with pytest.raises(SwanUnavailable):
            other.add_member(member("karim.benali@ac-nice.fr"))
        clock.advance(timedelta(minutes=11))
        assert swan.membership(known).id == known
        set_outage(db, clock.now() + timedelta(hours=1))
        with pytest.raises(SwanUnavailable):
            other.membership(known)
        set_outage(db, None)  # ended early
        assert outage_until(other_db) is None
        assert other.membership(known).id == known
        # The person's own moves on Swan's page never fail.
        set_outage(db, clock.now() + timedelta(hours=1))
        assert swan.simulate(known, "started")
    finally:
        other_db.dispose()
