"""The advance's line of the checklist: asked for only when needed, so shown only while
the coop may ask for one (PROCESSES.md: « the advance line only when the coop is
eligible ») or while one is under way."""

from __future__ import annotations

from datetime import date

from tests.helpers import case_of
from tests.transfer_helpers import advance_at, banking_done, eligible, fire
from web.portal import checklist
from workflows.models import Coop
from workflows.processes import DEFINITIONS
from workflows.processes.banque_postale_transfer.attestation import funds_payload


def _advance_line(engine, coop_id: int) -> checklist.Line | None:  # type: ignore[no-untyped-def]
    with engine.db.read() as session:
        coop = session.get(Coop, coop_id)
        lines = checklist.build(session, coop, DEFINITIONS, engine.clock.now())
    return next((line for line in lines if line.process == "emergency_advance"), None)


def test_the_advance_is_not_offered_to_a_coop_that_may_not_ask(engine, ad):  # type: ignore[no-untyped-def]
    mandataire = banking_done(engine, ad)  # the attestation not sent, not affiliated
    assert _advance_line(engine, mandataire.coop_id) is None


def test_an_eligible_coop_is_offered_the_request(engine, ad):  # type: ignore[no-untyped-def]
    mandataire = eligible(engine, ad)
    line = _advance_line(engine, mandataire.coop_id)
    assert line is not None
    assert (line.action, line.action_url, line.note) == (
        "Demander une avance",
        "/mon-espace/avance",
        checklist.ON_REQUEST,
    )
    assert line.state is None


def test_an_advance_under_way_shows_its_state_and_a_refused_one_may_be_asked_again(engine, ad):  # type: ignore[no-untyped-def]
    signing = advance_at(engine, ad, "awaiting_signature")
    line = _advance_line(engine, signing.coop_id)
    assert line is not None
    assert line.action == "Signer le contrat"
    assert line.state == "À faire : signez le contrat de remboursement de l'avance"
    refused = advance_at(engine, ad, "rejected")
    line = _advance_line(engine, refused.coop_id)
    assert line is not None
    assert (line.state, line.action) == (
        "Refusée : lisez le motif de votre AD",
        "Demander une avance",
    )


def test_an_advance_repaid_by_the_transfers_funds_is_done(engine, ad):  # type: ignore[no-untyped-def]
    paid = advance_at(engine, ad, "disbursed")
    transfer = case_of(engine, paid.coop_id, "banque_postale_transfer")
    fire(engine, transfer.id, "letter_ready")
    with engine.transaction() as tx:
        case = tx.lock(transfer.id)
        payload = funds_payload(
            case, case.coop.ad, received_cents=180000, received_on=date(2026, 11, 2), source="staff"
        )
    fire(engine, transfer.id, "funds_received", **payload)
    line = _advance_line(engine, paid.coop_id)
    assert line is not None  # no longer eligible (the transfer is funded): its last state
    assert (line.state, line.done, line.action) == (
        "Terminé : l'avance est remboursée",
        True,
        None,
    )
