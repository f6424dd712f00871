"""The back-office search ignores accents and case both ways, on both backends: the case
lists (and so their exports and bulk actions), the coops' list and the emails' list."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql

from admin import queries
from admin.queries import CaseFilters
from tests import factories
from tests.admin.conftest import log_in, text
from workflows.engine.engine import Actor
from workflows.models import Case, Email
from workflows.search import contains_words, fold, searched

SYSTEM = Actor.system("test")


def _ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-case-id="(\d+)"', page)]


@pytest.fixture
def coops(rt, ad):
    """Three coops with their invitation case, by a word of their names."""

    def make(name: str, first: str = "Éloïse", last: str = "Martin") -> int:
        coop = factories.CoopFactory(ad=ad, name=name)
        person = factories.MandataireFactory(coop=coop, first_name=first, last_name=last)
        with rt.engine.transaction() as tx:
            case = tx.start("invitation", coop.id, actor=SYSTEM, data={"mandataire_id": person.id})
            return case.id

    return {
        "exupery": make("Coopérative de l'école Saint-Exupéry"),
        "paquerettes": make("Coopérative maternelle Les Pâquerettes", "Hélène", "Lefèvre"),
        "plain": make("Cooperative Antoine de Saint-Exupery Grasse", "Noel", "Guerin"),
    }


def test_the_case_lists_find_words_without_their_accents(client, staff06, coops):
    log_in(client, staff06)

    def found(q: str) -> set[int]:
        return set(_ids(text(client.get("/admin/dossiers/", query_string={"q": q}))))

    both = {coops["exupery"], coops["plain"]}
    assert found("Exupery") == both  # « Exupéry » and « Exupery »
    assert found("exupéry") == both  # accented typing finds the plain spelling too
    assert found("EXUPÉRY grasse") == {coops["plain"]}  # every word, any case
    assert found("Paquerettes") == {coops["paquerettes"]}
    assert found("pâquerettes") == {coops["paquerettes"]}
    # The mandataire's name, either way: « Helene Lefevre » and « Noël Guérin ».
    assert found("helene lefevre") == {coops["paquerettes"]}
    assert found("Noël Guérin") == {coops["plain"]}
    assert found("cooperative") == set(coops.values())
    # The stuck list (the back-office home) searches the same way.
    assert "Exupery" in text(client.get("/admin/", query_string={"q": "Exupery"}))
    # LIKE's wildcards stay plain characters once folded.
    assert found("%") == found("_") == set()


def test_the_coop_list_finds_names_without_their_accents(client, staff06, coops):
    log_in(client, staff06)

    def found(q: str) -> str:
        return text(client.get("/admin/cooperatives/", query_string={"search": q}))

    page = found("paquerettes")
    assert "Les Pâquerettes" in page and "Saint-Exupéry" not in page
    page = found("Exupéry")
    assert "Saint-Exupéry" in page and "Saint-Exupery Grasse" in page
    assert "Les Pâquerettes" in found("helene")  # a mandataire's first name


def test_the_email_list_finds_subjects_without_their_accents(
    client, rt, staff06, coops, factory_session
):
    with rt.db.write() as session:
        for n, subject in enumerate(("Bienvenue à l'école Saint-Exupéry", "Rappel")):
            session.add(
                Email(
                    idempotency_key=f"test-{n}",
                    kind="invitation",
                    case_id=coops["exupery"],
                    coop_id=None,
                    to_address=f"eloise.{n}@ac-nice.fr",
                    subject=subject,
                    text_body="",
                    html_body="",
                    message_id=f"<{n}@test>",
                )
            )
    log_in(client, staff06)
    page = text(client.get("/admin/emails/", query_string={"search": "ecole exupery"}))
    assert "Bienvenue à l'école Saint-Exupéry" in page and "Rappel" not in page


def test_folding_is_lower_case_without_accents_or_ligatures():
    assert fold("Pâquerettes") == "paquerettes"
    assert fold("SAINT-EXUPÉRY") == "saint-exupery"
    assert fold("Œuvre de Cæsar, Straße") == "oeuvre de caesar, strasse"
    assert fold("e\u0301cole") == "ecole"  # a decomposed accent, as some keyboards type it
    assert fold(None) is None


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgresql_serves_the_folded_search_from_its_trigram_indexes(rt, coops):
    """At 500,000 cases a scan of every coop and mandataire per search would miss the
    back-office's target: the folded expressions must be the indexed ones."""
    query = select(Case.id).where(queries.search_condition("exupery grasse"))
    literal = query.compile(rt.db.engine, compile_kwargs={"literal_binds": True})
    with rt.db.engine.connect() as connection:
        # A three-row table is scanned whatever its indexes: ask for the index plan.
        connection.execute(sql("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in connection.execute(sql(f"EXPLAIN {literal}")))
    assert "ix_coops_search_trgm" in plan and "ix_mandataires_search_trgm" in plan, plan
    emails = select(Email.id).where(
        contains_words(searched(Email.to_address, Email.subject), "exupery")
    )
    literal = emails.compile(rt.db.engine, compile_kwargs={"literal_binds": True})
    with rt.db.engine.connect() as connection:
        connection.execute(sql("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in connection.execute(sql(f"EXPLAIN {literal}")))
    assert "ix_emails_search_trgm" in plan, plan
    with rt.db.engine.connect() as connection:
        folded = connection.execute(sql("SELECT coopflow_fold('Œuvre des PÂQUERETTES')"))
        assert folded.scalar_one() == "oeuvre des paquerettes"


def test_a_page_of_a_search_lists_what_its_export_and_bulk_action_select(rt, staff06, coops):
    """A list's page looks the coops up first (PostgreSQL: their ids in the statement);
    exports and bulk actions keep the subquery: the same cases either way, in order."""
    now = datetime.now(UTC)
    staff: Any = SimpleNamespace(id=staff06.id, role=staff06.role, ad_id=staff06.ad_id)
    with rt.db.read() as session:
        for q in ("exupery", "Exupéry grasse", "helene", "nothing-like-it", "cooperative"):
            for bloques in (False, True):
                filters = CaseFilters(q=q, bloques=bloques)
                listed = [c.id for c in queries.page(session, staff, filters, now).cases]
                selected = list(
                    session.scalars(
                        queries.matching(staff, filters, now).with_only_columns(Case.id)
                    )
                )
                assert listed == selected, (q, bloques)
        assert queries.page(session, staff, CaseFilters(q="exupery"), now).cases
