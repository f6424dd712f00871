"""``make run``'s demo data: every lasting state of every process has a case, and every
login the README and the start banner list opens its account."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from coopflow import db_migrations
from coopflow.config import Settings
from coopflow.demo import DEMO_MANDATAIRES, load_demo
from coopflow.runtime import build_runtime
from workflows.models import Case, Mandataire
from workflows.password_hashing import verify_password

#: States no case stays in: left at the worker's next turn.
PASSING = {
    "invitation": {"sending"},
    "space_check": {"cancelled"},
    "kyc": {"waiting"},
    "iban": {"checking", "verified"},
    "affiliation": {"submitted"},
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
    finally:
        rt.stop()
    readme = README.read_text(encoding="utf-8")
    for email, password, _ in DEMO_MANDATAIRES:
        assert f"`{email}`" in readme and f"`{password}`" in readme and email.isascii(), email
