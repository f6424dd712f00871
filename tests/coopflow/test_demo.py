"""``make run``'s demo data: every lasting state of every process has a case, and every
login the README and the start banner list opens its account."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.processes.banque_postale_transfer import record_funds
from admin.processes.card_order import record_return
from admin.processes.transfer_letters import mark_many, waiting
from coopflow import db_migrations
from coopflow.config import Settings
from coopflow.demo import DEMO_MANDATAIRES, _run_pending, load_demo
from coopflow.demo_affiliation import write_demo_statement
from coopflow.demo_cards import STORIES as CARD_STORIES
from coopflow.runtime import build_runtime
from web.auth import StaffPrincipal
from workflows.engine.engine import Actor
from workflows.models import Case, Coop, Document, Email, Mandataire, StaffUser
from workflows.password_hashing import verify_password
from workflows.processes.affiliation.statement import load_statement
from workflows.processes.affiliation.validation import record_check

#: States no case stays in: left at the worker's next turn (or, for ``waiting``, never
#: entered: a case starts, in its next state, when its prerequisites are met).
PASSING = {
    "invitation": {"sending"},
    "space_check": {"cancelled"},
    "kyc": {"waiting"},
    "iban": {"checking", "verified"},
    "affiliation": {"submitted"},
    "banque_postale_transfer": {"waiting", "attested"},
    "emergency_advance": {"requested", "approved"},
    "card_order": {"waiting", "ordering"},
}
README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_lasting_state_has_a_case_and_every_login_opens(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    db_migrations.upgrade(url)
    rt = build_runtime(Settings(database_url=url, secret_key="d" * 40))
    try:
        assert load_demo(rt)
        with rt.db.read() as session:
            seen = {tuple(row) for row in session.execute(select(Case.process, Case.state))}
            for email, password, _ in DEMO_MANDATAIRES:
                person = session.scalars(
                    select(Mandataire).where(Mandataire.email == email)
                ).one_or_none()
                assert person is not None, email
                assert verify_password(person.password_hash, password), email
        for definition in rt.engine.definitions.values():
            lasting = {s.name for s in definition.states} - PASSING.get(definition.name, set())
            missing = {state for state in lasting if (definition.name, state) not in seen}
            assert not missing, (definition.name, sorted(missing))
        _the_statement_tour(rt, tmp_path)
        _the_transfer_tour(rt)
        _the_card_tour(rt)
    finally:
        rt.stop()
    readme = README.read_text(encoding="utf-8")
    for email, password, _ in DEMO_MANDATAIRES:
        assert f"`{email}`" in readme and f"`{password}`" in readme and email.isascii(), email


def _the_statement_tour(rt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The README's tour: AD06 loads the demo's statement (it pays Coop des Pins'
    136,99 €), checks the signed commitment, and the coop's two attestations follow."""
    path = write_demo_statement(rt, tmp_path)
    with rt.db.read() as session:
        staff = session.scalars(select(StaffUser).where(StaffUser.email == "ad06@occe.coop")).one()
        ad_id = staff.ad_id
        actor = Actor.staff(staff)
    report = load_statement(rt.engine, ad_id, path.read_bytes(), path.name, actor)
    [matched] = report.matched
    assert matched.amount_cents == 13699
    assert load_statement(rt.engine, ad_id, path.read_bytes(), path.name, actor).matched == []
    with rt.engine.transaction() as tx:
        case = tx.session.get(Case, matched.case_id)
        assert case is not None and case.state == "awaiting_validation"
        record_check(tx, case.id, "commitment", actor, {"note": "Reçu."})
    _run_pending(rt, rt.engine)
    with rt.db.read() as session:
        case = session.get(Case, matched.case_id)
        assert case is not None and case.state == "validated"
        kinds = session.scalars(select(Document.kind).where(Document.case_id == case.id)).all()
    assert sorted(kinds) == ["attestation_adhesion", "attestation_assurance", "commitment"]


def _the_transfer_tour(rt) -> None:  # type: ignore[no-untyped-def]
    """The README's tour of the transfer: AD06's letters wait to be posted, Coop Les
    Genêts' among them (its advance paid); all marked sent, then its funds recorded as
    « Enregistrer les fonds reçus » records them: its advance is repaid."""
    with rt.db.read() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.email == "ad06@occe.coop")).one()
        agent = StaffPrincipal(user.id, user.email, user.full_name, user.role, user.ad_id)
        lines, total = waiting(session, agent)
        letters = {line.case.coop.name: line.case.id for line in lines if line.letter}
        advance = session.scalars(
            select(Case).where(
                Case.process == "emergency_advance",
                Case.coop_id == session.get(Case, letters["Coop Les Genêts"]).coop_id,
            )
        ).one()
    assert advance.state == "disbursed"
    assert total == len(letters) >= 3
    today = rt.engine.clock.now().date()
    assert mark_many(rt, agent, list(letters.values()), today, None) == (total, [])
    with rt.db.read() as session:
        case = session.get(Case, letters["Coop Les Genêts"])
        assert case is not None and case.state == "sent_to_bank"
        version = case.version
    form = SimpleNamespace(
        received_on=SimpleNamespace(data=today),
        amount_cents=180000,
        version=SimpleNamespace(data=version),
        comment=SimpleNamespace(data=None),
    )
    record_funds(rt, agent, case.id, form)
    _run_pending(rt, rt.engine)
    with rt.db.read() as session:
        transfer = session.get(Case, case.id)
        repaid = session.get(Case, advance.id)
        assert transfer is not None and repaid is not None
        assert (transfer.state, transfer.stuck_reason) == ("funds_received", None)
        assert repaid.state == "repaid"


#: What the card stories leave (their coop's name): the state and the stuck reason.
CARDS = {
    "Coop Les Acacias": ("to_order", None),
    "Coop du Cours Saleya": ("requested", None),
    "Coop Les Mûriers": ("consent_pending", None),
    "Coop de Cimiez": ("processing", "card_processing_late"),
    "Coop Les Magnolias": ("shipped", None),
    "Coop du Mont Alban": ("shipped", "card_not_activated"),
    "Coop Les Palmiers": ("activated", None),
    "Coop de Riquier": ("returned_to_ad", "card_returned_to_ad"),
    "Coop Les Bougainvilliers": ("cancelled", None),
}


def _cards(session: Session) -> dict[str, Case]:
    rows = session.execute(
        select(Coop.name, Case).join(Case).where(Case.process == "card_order")
    ).all()
    return {name: case for name, case in rows}


def _the_card_tour(rt) -> None:  # type: ignore[no-untyped-def]
    """Each card story where its login says, its cards ordered through the Swan
    sandbox (consent link, tracking number); then the README's tour: AD06 records Coop
    Les Magnolias' card come back to its office, and the mandataire is told."""
    assert {story.coop for story in CARD_STORIES} == set(CARDS)
    with rt.db.read() as session:
        cases = _cards(session)
        assert {n: (cases[n].state, cases[n].stuck_reason) for n in CARDS} == CARDS
        consent = cases["Coop Les Mûriers"].data["card"]
        assert consent["consent_url"].startswith(rt.settings.base_url.rstrip("/") + "/sandbox/")
        shipped = cases["Coop Les Magnolias"].data["card"]
        assert shipped["status"] == "ToActivate" and shipped["tracking_number"]
        assert shipped["estimated_delivery"] > rt.engine.clock.now().date().isoformat()
        assert cases["Coop Les Palmiers"].data["card"]["status"] == "Activated"
        # Polled since, Swan still printing it (the sandbox's card maker late).
        assert cases["Coop de Cimiez"].data["card"]["status"] == "Processing"
        assert "order" not in cases["Coop Les Acacias"].data
        user = session.scalars(select(StaffUser).where(StaffUser.email == "ad06@occe.coop")).one()
        agent = StaffPrincipal(user.id, user.email, user.full_name, user.role, user.ad_id)
        case = cases["Coop Les Magnolias"]
    today = rt.engine.clock.now().date()
    form = SimpleNamespace(
        received_on=SimpleNamespace(data=today),
        version=SimpleNamespace(data=case.version),
        comment=SimpleNamespace(data=None),
    )
    record_return(rt, agent, case.id, form)
    _run_pending(rt, rt.engine)
    with rt.db.read() as session:
        returned = session.get(Case, case.id)
        assert returned is not None
        assert (returned.state, returned.stuck_reason) == ("returned_to_ad", "card_returned_to_ad")
        assert returned.data["return"]["received_on"] == today.isoformat()
        told = session.scalars(select(Email.subject).where(Email.case_id == case.id)).all()
    assert "La carte bancaire de la Coop Les Magnolias est arrivée à votre AD" in told, told
