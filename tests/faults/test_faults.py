"""Fault injection: 500 invitations through real worker and scheduler processes, a fault
in the middle of the run, and every case must finish with one email each.

``make test PYTEST_ARGS="-m fault"`` runs these alone; docs/reliability.md says what
each proves and keeps the last figures.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from coopflow.config import load_settings
from coopflow.runtime import build_runtime
from tests.faults.cluster import (
    CASES,
    FAULT_AT,
    STAFF_EMAIL,
    WORKER_GROUPS,
    Cluster,
    Figures,
)
from workers.providers.swan.sandbox_world import set_outage
from workflows.engine import bulk
from workflows.engine.bulk_actions import RETRY_STEP
from workflows.engine.engine import Actor
from workflows.models import BulkJob, Case, Mandataire, StaffUser
from workflows.password_hashing import hash_password

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]


def _until_the_middle(cluster: Cluster) -> int:
    """Start the processes, import the coops with their invitations, and return once
    FAULT_AT cases are finished (how many exactly, for the report)."""
    cluster.start()
    cluster.import_coops()
    cluster.wait_finished(FAULT_AT, timeout=120)
    finished = cluster.finished()
    assert finished < CASES, "the run ended before the fault: nothing was tested"
    return finished


def _check(cluster: Cluster, figures: Figures) -> None:
    figures.report()
    cluster.assert_running()
    # resent: the same message (same Message-ID) handed twice to the server. A worker
    # killed between the server's « 250 » and the commit recording it leaves that
    # unknown; the relay's report settles it, so even then nothing goes twice.
    assert (figures.finished, figures.lost, figures.duplicated, figures.resent) == (
        CASES,
        0,
        0,
        0,
    ), figures
    cluster.assert_every_step_done()


def test_a_kill_workers(cluster: Cluster) -> None:
    """``kill -9`` of every worker process group mid-run, then a restart."""
    at_fault = _until_the_middle(cluster)
    fault_at = time.time()
    killed = cluster.kill_workers()
    # Emails a killed thread was handing over: the server may or may not have them.
    uncertain = cluster.scalar(
        "SELECT count(*) FROM emails WHERE status = 'sending' AND handed_at IS NOT NULL"
    )
    time.sleep(1)
    for _ in range(WORKER_GROUPS):
        cluster.start_worker()
    cluster.wait_finished()
    figures = cluster.figures(fault_at, at_fault, killed_groups=killed, uncertain=uncertain)
    _check(cluster, figures)


def test_b_flush_redis(cluster: Cluster) -> None:
    """FLUSHDB of the broker's database mid-run: every queued message is gone."""
    at_fault = _until_the_middle(cluster)
    fault_at = time.time()
    cluster.redis.flush()
    cluster.wait_finished()
    _check(cluster, cluster.figures(fault_at, at_fault))
    _check_worker_metrics(cluster)


def _check_worker_metrics(cluster: Cluster) -> None:
    """The worker groups' Prometheus ports (Dramatiq's middleware, multiprocess mode)
    serve Dramatiq's metrics and the step durations: every invitation was run to
    ``done`` once, by one of them (no worker died in this scenario)."""
    done = 0.0
    seen = set()
    for family in text_string_to_metric_families(cluster.scrape_workers()):
        seen.add(family.name)
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "coopflow_step_duration_seconds_count"
                and labels.get("step") == "send_invitation"
                and labels.get("outcome") == "done"
            ):
                done += sample.value
    assert {"dramatiq_messages", "coopflow_step_duration_seconds"} <= seen, sorted(seen)
    assert done == CASES


def test_b_restart_redis(cluster: Cluster) -> None:
    """Redis shut down (without saving) and started again mid-run."""
    at_fault = _until_the_middle(cluster)
    fault_at = time.time()
    cluster.redis.stop()
    time.sleep(1)
    cluster.redis.start()
    cluster.wait_finished()
    _check(cluster, cluster.figures(fault_at, at_fault))


def test_c_restart_postgres(cluster: Cluster) -> None:
    """PostgreSQL restarted mid-run: every connection of every process is cut. Workers,
    schedulers and the web (gunicorn) carry on without a restart: the web answers
    ``/readyz`` with 200 again by itself."""
    at_fault = _until_the_middle(cluster)
    web = cluster.web_url
    assert cluster.web_status(web) == 200
    fault_at = time.time()
    cluster.postgres.restart()
    down = round(time.time() - fault_at, 1)
    cluster.wait_for(lambda: cluster.web_status(web) == 200, timeout=30)
    web_back = round(time.time() - fault_at, 1)
    assert cluster.web_status(web, "/admin/connexion") == 200
    cluster.wait_finished(timeout=180)
    _check(
        cluster,
        cluster.figures(fault_at, at_fault, restart_seconds=down, web_ready_seconds=web_back),
    )


def test_d_provider_down(cluster: Cluster) -> None:
    """The mail server answers 451 to every recipient until every remaining case is
    stuck; once it is back, a bulk « retry the failed step » finishes them all."""
    at_fault = _until_the_middle(cluster)
    fault_at = time.time()
    cluster.smtp.unavailable = True
    cluster.wait_for(lambda: cluster.finished() + cluster.stuck() == CASES, timeout=120)
    stuck = cluster.stuck()
    assert stuck > 0
    reasons = cluster.query(
        "SELECT DISTINCT c.stuck_message, s.status, s.attempts FROM cases c "
        "JOIN steps s ON s.case_id = c.id WHERE c.stuck_reason = 'step_failed'"
    )
    assert len(reasons) == 1, reasons
    message, status, attempts = reasons[0]
    assert (status, attempts) == ("failed", 5)
    assert "Envoi de l'invitation" in message and "451" in message, message
    outage = round(time.time() - fault_at, 1)
    cluster.smtp.unavailable = False

    rt = build_runtime(load_settings(cluster.env, dotenv=False))
    try:
        retried_at = time.time()
        with rt.engine.transaction() as tx:
            staff_id = tx.session.scalar(select(StaffUser.id).where(StaffUser.email == STAFF_EMAIL))
            ids = [
                i for (i,) in cluster.query("SELECT id FROM cases WHERE stuck_reason IS NOT NULL")
            ]
            job = bulk.create(
                tx,
                staff_id=staff_id,
                action=RETRY_STEP,
                params={},
                case_ids=ids,
                comment="Le serveur de messagerie est revenu.",
                description="Invitations bloquées par la panne du serveur de messagerie",
            )
        with rt.engine.transaction() as tx:
            bulk.confirm(tx, job.id, staff_id)
        cluster.wait_finished()
        with rt.db.read() as session:
            done = session.get(BulkJob, job.id)
            assert done is not None
            cluster.wait_for(
                lambda: session.get(BulkJob, job.id, populate_existing=True).status == "done", 30
            )
            assert (done.done_count, done.skipped_count) == (stuck, 0)
    finally:
        rt.stop()
    figures = cluster.figures(
        fault_at,
        at_fault,
        stuck=stuck,
        outage_seconds=outage,
        temporary_failures=cluster.smtp.temporary_failures,
        bulk_retry_seconds=round(cluster.last_finished_at() - retried_at, 1),
    )
    _check(cluster, figures)
    assert cluster.stuck() == 0


#: Swan's faults in the worker processes of scenario e: every call may fail (HTTP 500) or
#: time out after Swan did the work (the membership exists, the answer is lost).
SWAN_FAULTS = {
    "COOPFLOW_SWAN_SANDBOX_ERROR_RATE": "0.1",
    "COOPFLOW_SWAN_SANDBOX_TIMEOUT_RATE": "0.1",
    "COOPFLOW_SWAN_WEBHOOK_SECRET": "fault-injection-swan-secret",
}
SWAN_OUTAGE = 6.0


def test_e_swan_down(cluster: Cluster) -> None:
    """Swan's sandbox answers 500 and times out (one call in five all along, every call
    for SWAN_OUTAGE seconds) while the 500 accounts become active: each kyc case gets
    one membership and one instructions email whatever was retried; a bulk « retry the
    failed step » finishes those whose attempts all fell in the outage; then every
    mandataire is verified by Swan's webhooks, each sent twice: one ``validate`` each."""
    cluster.env.update(SWAN_FAULTS)
    cluster.start()
    cluster.import_coops()
    cluster.wait_finished(timeout=180)
    rt = build_runtime(load_settings({**cluster.env, **_NO_FAULTS}, dotenv=False))
    try:
        fault_at = time.time()
        set_outage(rt.db, rt.engine.clock.now() + timedelta(seconds=SWAN_OUTAGE))
        _activate_every_account(rt)
        kyc_done = (
            "SELECT count(*) FROM steps WHERE name = 'request_identification' AND status = 'done'"
        )
        cluster.wait_for(
            lambda: (cluster.scalar(kyc_done) or 0) + _kyc_stuck(cluster) == CASES, timeout=180
        )
        stuck = _kyc_stuck(cluster)
        if stuck:
            _bulk_retry(rt, cluster, "Swan répond de nouveau.")
        cluster.wait_for(lambda: cluster.scalar(kyc_done) == CASES, timeout=120)
        recovered = round(time.time() - fault_at, 1)

        # Every mandataire through Swan's page; Swan reports each event twice.
        memberships = cluster.query(
            "SELECT id, data ->> 'membership_id' FROM cases WHERE process = 'kyc'"
        )
        events = []
        for _, membership in memberships:
            for outcome in ("started", "pending", "valid"):
                events += rt.swan.simulate(membership, outcome)  # type: ignore[attr-defined]
        answers = [_post_swan(cluster.web_url, event) for event in events + events]
        assert set(answers) == {200}, set(answers)
        verified = "SELECT count(*) FROM cases WHERE process = 'kyc' AND state = 'verified'"
        cluster.wait_for(lambda: cluster.scalar(verified) == CASES, timeout=180)
    finally:
        rt.stop()

    made = cluster.scalar("SELECT count(*) FROM swan_sandbox_objects WHERE kind = 'membership'")
    twice = cluster.query(
        "SELECT e.case_id, e.trigger, count(*) FROM case_events e JOIN cases c "
        "ON c.id = e.case_id WHERE c.process = 'kyc' AND e.trigger IN "
        "('start', 'started', 'submitted', 'validate') GROUP BY 1, 2 HAVING count(*) > 1"
    )
    with cluster.smtp.lock:
        instructions = Counter(
            str(m["To"]) for m in cluster.smtp.messages if "Vérifiez votre identité" in m["Subject"]
        )
    failed_calls = cluster.scalar(
        "SELECT count(*) FROM steps WHERE name = 'request_identification' AND attempts > 1"
    )
    print(
        f"[fault] e_swan_down: cases={CASES} verified={cluster.scalar(verified)} "
        f"memberships={made} moved_twice={len(twice)} stuck_in_outage={stuck} "
        f"retried_steps={failed_calls} instructions={sum(instructions.values())} "
        f"recovery={recovered}s"
    )
    assert made == CASES, made
    assert twice == [], twice[:5]
    assert len(instructions) == CASES and set(instructions.values()) == {1}, instructions
    assert failed_calls > 0, "Swan never failed: nothing was tested"


#: The test process's own Swan (it plays the mandataires on Swan's page): no faults.
_NO_FAULTS = {
    "COOPFLOW_SWAN_SANDBOX_ERROR_RATE": "0",
    "COOPFLOW_SWAN_SANDBOX_TIMEOUT_RATE": "0",
}


def _activate_every_account(rt) -> None:  # type: ignore[no-untyped-def]
    """Each mandataire chooses a password and logs in (50 per transaction)."""
    with rt.db.read() as session:
        rows = session.execute(
            select(Case.id, Case.data["mandataire_id"].as_integer()).where(
                Case.process == "invitation"
            )
        ).all()
    hashed = hash_password("Panne*Swan2026!")
    for start in range(0, len(rows), 50):
        with rt.engine.transaction() as tx:
            for case_id, mandataire_id in rows[start : start + 50]:
                person = tx.session.get(Mandataire, mandataire_id)
                person.password_hash, person.password_set_at = hashed, tx.now
                me = Actor.mandataire(person)
                tx.fire(case_id, "set_password", actor=me)
                tx.fire(case_id, "first_login", actor=me)


def _kyc_stuck(cluster: Cluster) -> int:
    return (
        cluster.scalar(
            "SELECT count(*) FROM cases WHERE process = 'kyc' AND stuck_reason = 'step_failed'"
        )
        or 0
    )


def _bulk_retry(rt, cluster: Cluster, comment: str) -> None:  # type: ignore[no-untyped-def]
    with rt.engine.transaction() as tx:
        staff_id = tx.session.scalar(select(StaffUser.id).where(StaffUser.email == STAFF_EMAIL))
        ids = [
            i
            for (i,) in cluster.query(
                "SELECT id FROM cases WHERE process = 'kyc' AND stuck_reason = 'step_failed'"
            )
        ]
        job = bulk.create(
            tx,
            staff_id=staff_id,
            action=RETRY_STEP,
            params={},
            case_ids=ids,
            comment=comment,
            description="Vérifications d'identité bloquées par la panne de Swan",
        )
    with rt.engine.transaction() as tx:
        bulk.confirm(tx, job.id, staff_id)


def _post_swan(web_url: str, event: dict) -> int:  # type: ignore[type-arg]
    request = urllib.request.Request(
        web_url + "/webhooks/swan",
        data=json.dumps(event).encode(),
        headers={
            "Content-Type": "application/json",
            "x-swan-secret": SWAN_FAULTS["COOPFLOW_SWAN_WEBHOOK_SECRET"],
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


#: Swan's faults in the workers restarted in scenario f: a call may fail (HTTP 500) or
#: time out after Swan made the card (the answer lost); rare enough that no order uses
#: up its attempts, frequent enough that hundreds of calls meet them.
CARD_FAULTS = {
    "COOPFLOW_SWAN_SANDBOX_ERROR_RATE": "0.02",
    "COOPFLOW_SWAN_SANDBOX_TIMEOUT_RATE": "0.04",
}
_ORDERED = "SELECT count(*) FROM steps WHERE name = 'order_card' AND status = 'done'"


def test_f_card_orders_kill_workers(cluster: Cluster) -> None:
    """500 coops order their card; ``kill -9`` of every worker group mid-run, then a
    restart with a Swan that fails and times out after the work: 500 physical cards at
    the sandbox, none twice, every case waiting for the mandataire's consent."""
    cluster.start()
    cluster.import_coops()
    cluster.wait_finished(timeout=180)
    rt = build_runtime(load_settings({**cluster.env, **_NO_FAULTS}, dotenv=False))
    try:
        _activate_every_account(rt)
        identified = (
            "SELECT count(*) FROM steps WHERE name = 'request_identification' AND status = 'done'"
        )
        cluster.wait_for(lambda: cluster.scalar(identified) == CASES, timeout=180)
        _may_order(rt)
        to_order = "SELECT count(*) FROM cases WHERE process = 'card_order' AND state = 'to_order'"
        cluster.wait_for(lambda: cluster.scalar(to_order) == CASES, timeout=120)
        _order_every_card(rt)
        cluster.wait_for(lambda: (cluster.scalar(_ORDERED) or 0) >= FAULT_AT, timeout=120)
        at_fault = cluster.scalar(_ORDERED)
        assert at_fault < CASES, "every card was ordered before the fault: nothing was tested"
        fault_at = time.time()
        killed = cluster.kill_workers()
        cluster.env.update(CARD_FAULTS)
        for _ in range(WORKER_GROUPS):
            cluster.start_worker()
        cluster.wait_for(lambda: cluster.scalar(_ORDERED) == CASES, timeout=180)
        recovered = round(time.time() - fault_at, 1)
    finally:
        rt.stop()

    made = cluster.scalar("SELECT count(*) FROM swan_sandbox_objects WHERE kind = 'physical_card'")
    twice = cluster.query(
        "SELECT c.parent_id, count(*) FROM swan_sandbox_objects p JOIN swan_sandbox_objects c "
        "ON c.id = p.parent_id WHERE p.kind = 'physical_card' GROUP BY 1 HAVING count(*) > 1"
    )
    cards = cluster.scalar("SELECT count(*) FROM swan_sandbox_objects WHERE kind = 'card'")
    consent = cluster.scalar(
        "SELECT count(*) FROM cases WHERE process = 'card_order' AND state = 'consent_pending'"
    )
    adopted = cluster.scalar(
        "SELECT count(*) FROM cases WHERE process = 'card_order' "
        "AND (data -> 'order' ->> 'adopted') = 'true'"
    )
    retried = cluster.scalar(
        "SELECT count(*) FROM steps WHERE name = 'order_card' AND attempts > 1"
    )
    print(
        f"[fault] f_card_orders_kill_workers: cases={CASES} at_fault={at_fault} "
        f"killed_groups={killed} physical_cards={made} cards={cards} twice={len(twice)} "
        f"consent_pending={consent} adopted={adopted} retried_steps={retried} "
        f"recovery={recovered}s"
    )
    assert (made, cards, twice, consent) == (CASES, CASES, [], CASES), twice[:5]
    assert retried > 0, "no order was retried: nothing was tested"
    cluster.assert_running()


def _may_order(rt) -> None:  # type: ignore[no-untyped-def]
    """Each coop's identity verified, account certified and affiliation validated, as
    staff's and Swan's decisions leave them (50 per transaction): the schedulers' sweep
    starts its card order."""
    wanted = {"kyc": "verified", "iban": "certified", "affiliation": "validated"}
    with rt.db.read() as session:
        ids = session.execute(
            select(Case.id, Case.process).where(Case.process.in_(list(wanted)))
        ).all()
    for start in range(0, len(ids), 50):
        with rt.engine.transaction() as tx:
            for case_id, process in ids[start : start + 50]:
                tx.lock(case_id).state = wanted[process]


def _order_every_card(rt) -> None:  # type: ignore[no-untyped-def]
    """Each mandataire orders the card to the school, as the portal keeps the request."""
    with rt.db.read() as session:
        rows = session.execute(
            select(Case.id, Case.coop_id).where(Case.process == "card_order")
        ).all()
    for start in range(0, len(rows), 50):
        with rt.engine.transaction() as tx:
            for case_id, coop_id in rows[start : start + 50]:
                person = tx.session.scalars(
                    select(Mandataire).where(Mandataire.coop_id == coop_id)
                ).first()
                case = tx.lock(case_id)
                case.data = {
                    **(case.data or {}),
                    "request": {
                        "address": {
                            "line1": "4 avenue Thiers",
                            "line2": "",
                            "postal_code": "06000",
                            "city": "Nice",
                            "country": "FRA",
                        },
                        "school_address": True,
                        "printed_line": "COOP ECOLE",
                        "holder": person.full_name.upper()[:20],
                        "responsible": True,
                        "requested_by": person.full_name,
                        "requested_at": tx.now.isoformat(),
                    },
                }
                tx.fire(case_id, "request", actor=Actor.mandataire(person))
