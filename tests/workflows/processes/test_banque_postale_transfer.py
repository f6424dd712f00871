"""``banque_postale_transfer`` and ``emergency_advance`` alone (no worker runs their
steps): the transfer starts once the identity is verified and the
account certified, takes the attestation, waits for its letter to be sent and for the
funds, and is stuck for the reasons PROCESSES.md gives; the funds repay the coop's
advance in the same transaction, audited on both cases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.factories import StaffFactory
from tests.helpers import active_account, case_of
from tests.transfer_helpers import ATTESTATION, SYSTEM, attested, banking_done, fire, steps_of
from workflows.engine.engine import Actor
from workflows.engine.errors import GuardFailed
from workflows.engine.scheduling import tick
from workflows.models import AD, Case, CaseEvent, Task
from workflows.processes.banque_postale_transfer.attestation import funds_payload
from workflows.processes.banque_postale_transfer.definition import DEFINITION as TRANSFER
from workflows.processes.emergency_advance.definition import DEFINITION as ADVANCE

CLAIRE = Actor("staff", 1, "Claire Agent")


def test_the_transfer_waits_for_the_identity_and_the_account_then_asks_the_attestation(engine, ad):
    mandataire = active_account(engine, ad)
    with engine.db.read() as s:
        assert s.scalar(select(Case).where(Case.process == TRANSFER.name)) is None
    fire(engine, case_of(engine, mandataire.coop_id, "kyc").id, "validate")
    with engine.db.read() as s:  # the account is not certified yet
        assert s.scalar(select(Case).where(Case.process == TRANSFER.name)) is None
    case = case_of(engine, banking_done(engine, ad).coop_id, TRANSFER.name)  # both met
    assert case.state == "awaiting_attestation"
    assert TRANSFER.state_by_name[case.state].mandataire_action == "Remplir l'attestation"
    assert steps_of(engine, case.id) == ["notify_mandataire"]  # told at once


def test_an_incomplete_attestation_is_refused_and_a_complete_one_makes_the_letter(engine, ad):
    mandataire = banking_done(engine, ad)
    case = case_of(engine, mandataire.coop_id, TRANSFER.name)
    me = Actor.mandataire(mandataire)
    for missing, said in (
        ("no_operation", "Cochez les trois déclarations de l'attestation."),
        ("old_account", "Indiquez le numéro du compte La Banque Postale."),
        ("declared_cents", "Indiquez le solde du compte La Banque Postale."),
    ):
        with engine.transaction() as tx:
            tx.lock(case.id).data = {
                "attestation": {k: v for k, v in ATTESTATION.items() if k != missing}
            }
        with pytest.raises(GuardFailed, match=said):
            fire(engine, case.id, "attest", actor=me)
    _, case = attested(engine, ad)
    assert case_of(engine, case.coop_id, TRANSFER.name).state == "attested"
    assert steps_of(engine, case.id)[-1] == "render_transfer_request"
    ready = fire(engine, case.id, "letter_ready")
    assert ready.state == "ready_to_send"
    with engine.db.read() as s:
        [task] = s.scalars(select(Task).where(Task.case_id == case.id)).all()
        assert task.title == "Imprimer et envoyer la lettre à La Banque Postale"
    assert fire(engine, case.id, "mark_sent", actor=CLAIRE).state == "sent_to_bank"


def test_the_attestation_is_asked_again_at_7_and_14_days_and_stuck_at_21(engine, clock, ad):
    case = case_of(engine, banking_done(engine, ad).coop_id, TRANSFER.name)
    for days, reminders in ((7, 1), (14, 2)):
        clock.advance(timedelta(days=7, minutes=1) if days == 7 else timedelta(days=7))
        tick(engine)
        assert steps_of(engine, case.id).count("send_reminder") == reminders
    clock.advance(timedelta(days=7))
    tick(engine)
    stuck = case_of(engine, case.coop_id, TRANSFER.name)
    assert stuck.stuck_reason == "transfer_attestation_late"
    assert stuck.stuck_message == (
        "L'attestation pour le reversement du solde n'est pas revenue après 21 jours."
    )
    relaunched = fire(engine, case.id, "relaunch", actor=CLAIRE)
    assert relaunched.stuck_reason is None and relaunched.state == "awaiting_attestation"


def _sent(engine, ad) -> Case:  # type: ignore[no-untyped-def]
    _, case = attested(engine, ad)
    fire(engine, case.id, "letter_ready")
    return fire(engine, case.id, "mark_sent", actor=CLAIRE)


def test_no_funds_30_days_after_the_letter_is_stuck_until_staff_follow_up(engine, clock, ad):
    case = _sent(engine, ad)
    clock.advance(timedelta(days=30, minutes=1))
    tick(engine)
    stuck = case_of(engine, case.coop_id, TRANSFER.name)
    assert stuck.stuck_reason == "transfer_no_funds"
    assert stuck.stuck_action == "follow_up_bank"
    rule = next(r for r in TRANSFER.stuck_rules if r.reason == stuck.stuck_reason)
    assert rule.action_label == "Relancer La Banque Postale"
    with pytest.raises(GuardFailed, match="Dites pourquoi"):
        fire(engine, case.id, "follow_up_bank", actor=CLAIRE)
    followed = fire(engine, case.id, "follow_up_bank", actor=CLAIRE, comment="Appel au centre.")
    assert followed.stuck_reason is None and followed.state == "sent_to_bank"


def _funds(received: int, declared: int = 180000, tolerance: int = 100) -> dict[str, object]:
    """The payload staff's form and Swan's match give ``funds_received``."""
    case = Case(data={"attestation": {**ATTESTATION, "declared_cents": declared}})
    return funds_payload(
        case,
        AD(transfer_tolerance_cents=tolerance),
        received_cents=received,
        received_on=date(2026, 10, 2),
        source="staff",
    )


def test_funds_within_the_tolerance_are_received_and_beyond_it_the_case_is_stuck(engine, ad):
    case = _sent(engine, ad)
    with pytest.raises(GuardFailed, match="Indiquez le montant reçu"):
        fire(engine, case.id, "funds_received", actor=CLAIRE, **{**_funds(0), "received_cents": 0})
    received = fire(engine, case.id, "funds_received", actor=CLAIRE, **_funds(179950))
    assert received.state == "funds_received" and received.stuck_reason is None
    other = _sent(engine, ad)
    off = fire(engine, other.id, "funds_received", actor=SYSTEM, **_funds(150000))
    assert off.stuck_reason == "transfer_amount_mismatch"
    assert " ".join(off.stuck_message.replace("\u202f", " ").replace("\xa0", " ").split()) == (
        "Le montant reçu (1 500,00 €) diffère du solde déclaré (1 800,00 €) de 300,00 €, "
        "plus que la tolérance de l'AD (1,00 €)."
    )
    with pytest.raises(GuardFailed, match="vérifiez-le"):  # not closed while unexplained
        fire(engine, other.id, "close_account", actor=CLAIRE)
    queued = steps_of(engine, other.id)
    explained = fire(engine, other.id, "accept_amount", actor=CLAIRE, comment="Frais de clôture.")
    assert (explained.state, explained.stuck_reason) == ("funds_received", None)
    # Explained, not received again: no second email, the closing task still the one.
    assert steps_of(engine, other.id) == queued
    with engine.db.read() as s:
        tasks = s.scalars(select(Task.kind).where(Task.case_id == other.id)).all()
    assert tasks.count("transfer_closing") == 1
    assert fire(engine, other.id, "close_account", actor=CLAIRE).state == "closed"


def test_the_funds_repay_the_coops_advance_in_the_same_transaction_audited_on_both(engine, ad):
    mandataire, transfer = attested(engine, ad)
    fire(engine, transfer.id, "letter_ready")
    fire(engine, transfer.id, "mark_sent", actor=CLAIRE)
    # The affiliation of the year validated, then the advance asked, granted, signed, paid.
    affiliation = case_of(engine, mandataire.coop_id, "affiliation")
    with engine.transaction() as tx:
        tx.lock(affiliation.id).state = "validated"
    me = Actor.mandataire(mandataire)
    with engine.transaction() as tx:
        advance = tx.start(ADVANCE.name, mandataire.coop_id, actor=me, data={}, trigger="request")
        tx.session.flush()
        advance_id = advance.id
    fire(engine, advance_id, "to_review")
    president = StaffFactory(ad=ad, full_name="Robert Président", officer_role="president")
    fire(engine, advance_id, "approve", actor=Actor.staff(president))
    fire(engine, advance_id, "contract_ready")
    signature = {"name": "Camille Giraud", "consent": True, "signed_at": "x", "ip": "192.0.2.1"}
    fire(engine, advance_id, "sign", actor=me, signature=signature)
    paid = fire(
        engine, advance_id, "disburse", actor=CLAIRE, disbursed_on="2026-10-01", reference="VIR-1"
    )
    assert paid.state == "disbursed"

    fire(engine, transfer.id, "funds_received", actor=SYSTEM, **_funds(180000))
    with engine.db.read() as s:
        repaid = s.get(Case, advance_id)
        assert repaid is not None and repaid.state == "repaid"
        trail = s.execute(
            select(CaseEvent.case_id, CaseEvent.trigger, CaseEvent.kind, CaseEvent.comment)
            .where(CaseEvent.case_id.in_((transfer.id, advance_id)))
            .order_by(CaseEvent.id.desc())
            .limit(8)
        ).all()
    by_case = {(row.case_id, row.trigger or row.kind): row.comment for row in trail}
    assert (advance_id, "repay") in by_case
    assert "Suite du dossier" in by_case[(advance_id, "repay")]
    assert any(case_id == transfer.id and kind == "effect" for case_id, kind in by_case)
    assert (transfer.id, "funds_received") in by_case
