"""The command line's import writes a whole AD's file in parts: checked whole first, then
a transaction per ``part`` lines, so invitations leave while the rest is imported."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.workflows.test_coop_import import csv_file, line
from workflows.coop_import import import_coops, import_coops_in_parts
from workflows.engine.engine import Actor
from workflows.models import Case, Coop

STAFF = Actor("staff", 1, "Claire Agent")
#: Line 5 of the file (the 4th coop) is refused: its mandataire's email is not academic.
ROWS = [line(1), line(2), line(3), line(4, email_mandataire="helene@gmail.com"), line(5)]


def _coops(engine) -> int:
    with engine.db.read() as s:
        return s.scalar(select(func.count()).select_from(Coop))


def test_parts_report_what_one_transaction_reports(engine, ad):
    report = import_coops_in_parts(engine, ad.id, csv_file(*ROWS), invite=True, actor=STAFF, part=2)
    assert (report.created, report.updated, report.unchanged, report.invited) == (4, 0, 0, 4)
    assert [e.line for e in report.errors] == [5]
    with engine.db.read() as s:
        states = s.scalars(select(Case.state).where(Case.process == "invitation")).all()
    assert states == ["sending"] * 4


def test_the_first_invitations_are_published_before_the_last_lines_are_written(
    engine, ad, publisher
):
    """When each part's steps are handed to the broker, the next parts are not written yet
    (the refused line is left out by the check: the parts are lines 2-3, then 4 and 6)."""
    seen = []
    record = engine.publisher

    def publish(step_ids, delay_ms):
        seen.append((len(step_ids), _coops(engine)))
        record(step_ids, delay_ms)

    engine.publisher = publish
    import_coops_in_parts(engine, ad.id, csv_file(*ROWS), invite=True, actor=STAFF, part=2)
    assert seen == [(2, 2), (2, 4)]
    assert len(publisher.ids) == 4


def test_a_refused_file_writes_nothing(engine, ad):
    report = import_coops_in_parts(
        engine, ad.id, b"nom;prenom\r\nA;B", invite=True, actor=STAFF, part=2
    )
    assert report.file_errors and _coops(engine) == 0
    assert report.summary().startswith("Fichier refusé, rien n'a été importé")


def test_a_run_stopped_midway_is_finished_by_running_it_again(engine, ad):
    with engine.transaction() as tx:
        first = import_coops(tx, ad, csv_file(*ROWS[:2]), invite=True, actor=STAFF)
    assert first.created == 2
    again = import_coops_in_parts(engine, ad.id, csv_file(*ROWS), invite=True, actor=STAFF, part=2)
    assert (again.created, again.unchanged, again.invited) == (2, 2, 2)
    assert [(e.line, e.message) for e in again.errors] == [
        (5, "L'email du mandataire doit être sur un domaine académique de l'AD06 (ac-nice.fr)")
    ]
    assert _coops(engine) == 4


def test_many_new_rows_are_written_with_their_ids_drawn_first(engine, ad, publisher):
    """On PostgreSQL, 120 new coops, mandataires, cases and steps are inserted by
    ``executemany`` with ids drawn from their sequences (one short statement per table,
    no ``INSERT … RETURNING`` of thousands of placeholders), and everything links up."""
    from sqlalchemy import event

    from workflows.models import Mandataire, Step

    inserts: list[tuple[str, bool]] = []

    def seen(_conn, _cursor, statement, _params, _context, executemany):
        if statement.startswith("INSERT INTO"):
            inserts.append((statement.split()[2], "RETURNING" in statement))

    rows = [line(n) for n in range(1, 121)]
    target = engine.db.engine
    event.listen(target, "before_cursor_execute", seen)
    try:
        report = import_coops_in_parts(engine, ad.id, csv_file(*rows), invite=True, actor=STAFF)
    finally:
        event.remove(target, "before_cursor_execute", seen)
    assert report.created == 120 and report.invited == 120
    returning = {table for table, with_returning in inserts if with_returning}
    if engine.db.engine.dialect.name == "postgresql":
        assert returning == set(), inserts
        assert len(inserts) == len(set(inserts)), inserts  # one statement per table
    else:
        assert {"coops", "mandataires", "cases", "steps"} <= returning  # SQLite's way
    with engine.db.read() as s:
        linked = s.execute(
            select(func.count())
            .select_from(Step)
            .join(Case, Case.id == Step.case_id)
            .join(Coop, Coop.id == Case.coop_id)
            .join(Mandataire, Mandataire.coop_id == Coop.id)
            .where(Step.id.in_(publisher.ids), Step.name == "send_invitation")
        ).scalar()
    assert linked == 120 and len(set(publisher.ids)) == 120
