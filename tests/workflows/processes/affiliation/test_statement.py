"""Payments validated from a bank statement (``statement``), on both backends: a line
matched on its reference and amount, the lines that do not match and why (no reference,
an unknown one, another amount, an affiliation that awaits no payment, a payment already
checked), a statement partly matched, the same statement loaded twice (nothing validated
twice), unreadable lines reported by number, the files French banks export (« ; »,
Windows-1252, BOM, lines before the header, a signed « Montant »)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.helpers import active_account
from tests.workflows.processes.affiliation.staff_cases import (
    CLAIRE,
    FEE_CENTS,
    PAUL,
    awaiting,
    draft_of,
    events,
    read_case,
    submit,
)
from workflows.engine.engine import Actor
from workflows.models import Case, StatementLine
from workflows.processes.affiliation import validation
from workflows.processes.affiliation.statement import (
    ALREADY_LOADED,
    ALREADY_PAID,
    AMOUNT,
    INVALID,
    MATCHED,
    NO_REFERENCE,
    NOT_AWAITING,
    UNKNOWN_REFERENCE,
    fingerprints,
    load_statement,
    references,
)
from workflows.processes.affiliation.statement_csv import (
    NO_HEADER,
    parse_amount,
    parse_date,
    parse_statement,
)

HEADER = "Date;Libellé;Débit;Crédit"


def _csv(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return "\r\n".join([header, *lines, ""]).encode(encoding)


def _ref(case: Case) -> str:
    return f"ADH-{case.school_year}-{case.coop.affiliation_number}"


def _load(engine, ad, content: bytes, actor: Actor = CLAIRE, name: str = "releve.csv"):  # type: ignore[no-untyped-def]
    return load_statement(engine, ad.id, content, name, actor)


def _outcomes(report) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(line.number, line.outcome) for line in report.lines]


def test_a_line_with_the_reference_and_the_fee_checks_the_payment(engine, ad):
    case = awaiting(engine, ad)
    report = _load(engine, ad, _csv(f"03/09/2026;VIR SEPA COOP ECOLE {_ref(case)};;136,99"))
    [line] = report.lines
    assert (line.number, line.outcome, line.case_id, line.reference) == (
        2,
        MATCHED,
        case.id,
        _ref(case),
    )
    assert "l'adhésion attend encore ses autres pièces" in line.message
    checked = read_case(engine, case.id)
    assert checked.state == "awaiting_validation"
    payment = checked.data["checks"]["payment"]
    with engine.db.read() as session:
        stored = session.scalars(select(StatementLine)).one()
    assert payment | {"at": None} == {
        "by": "Claire Agent",
        "by_id": 1,
        "at": None,
        "amount_cents": FEE_CENTS,
        "received_on": "2026-09-03",
        "reference": _ref(case),
        "source": "statement",
        "statement_line_id": stored.id,
    }
    assert (stored.outcome, stored.case_id, stored.booked_on, stored.loaded_by) == (
        MATCHED,
        case.id,
        date(2026, 9, 3),
        "Claire Agent",
    )
    [event] = events(engine, case.id, "check_payment")
    assert event.actor == "staff:1 Claire Agent" and event.payload["source"] == "statement"


def test_the_statement_validates_an_affiliation_whose_other_items_are_checked(engine, ad):
    case = awaiting(engine, ad)
    with engine.transaction() as tx:
        validation.record_check(tx, case.id, "commitment", PAUL, {})
    report = _load(engine, ad, _csv(f"03/09/2026;{_ref(case)};;136,99"))
    assert report.lines[0].validated
    assert report.lines[0].message.endswith("l'adhésion est validée.")
    assert read_case(engine, case.id).state == "validated"
    [validate] = events(engine, case.id, "validate")
    assert validate.actor == "staff:1 Claire Agent"


def test_lines_that_do_not_match_say_why(engine, ad, factory_session):
    waiting, paid = awaiting(engine, ad), awaiting(engine, ad)
    with engine.transaction() as tx:
        validation.record_check(
            tx,
            paid.id,
            "payment",
            PAUL,
            {"amount_cents": FEE_CENTS, "received_on": date(2026, 9, 7), "reference": "CHQ 42"},
        )
    draft = read_case(engine, draft_of(engine, active_account(engine, ad).coop_id))
    other_ad = factories.ADFactory(code="AD50", academic_domains=["ac-caen.fr"])
    elsewhere = awaiting(engine, other_ad)
    report = _load(
        engine,
        ad,
        _csv(
            "01/09/2026;VIR COOPERATIVE SANS REFERENCE;;136,99",
            "01/09/2026;VIR ADH-2026-9999999Z;;136,99",
            f"02/09/2026;VIR {_ref(waiting)};;130,00",
            f"02/09/2026;VIR {_ref(draft)};;136,99",
            f"03/09/2026;VIR {_ref(paid)};;136,99",
            f"03/09/2026;VIR {_ref(elsewhere)};;136,99",
        ),
    )
    assert _outcomes(report) == [
        (2, NO_REFERENCE),
        (3, UNKNOWN_REFERENCE),
        (4, AMOUNT),
        (5, NOT_AWAITING),
        (6, ALREADY_PAID),
        (7, UNKNOWN_REFERENCE),
    ]
    messages = [line.message for line in report.lines]
    assert "Aucune référence d'adhésion" in messages[0]
    assert "ADH-2026-9999999Z" in messages[1]
    assert messages[2] == (
        "Le montant reçu (130,00\u00a0€) ne correspond pas au montant de l'adhésion "
        "(136,99\u00a0€)."
    )
    assert "« Adhésion à compléter par le mandataire »" in messages[3]
    assert "déjà validé par Paul Trésorier" in messages[4]
    # Another AD's affiliation is not found from this AD's statement (nor named).
    assert elsewhere.coop.name not in messages[5]
    assert report.matched == [] and len(report.not_matched) == 6
    for case in (waiting, draft, elsewhere):
        assert "payment" not in (read_case(engine, case.id).data.get("checks") or {})
    assert read_case(engine, paid.id).data["checks"]["payment"]["reference"] == "CHQ 42"


def test_a_statement_partly_matched(engine, ad):
    first, second, third = awaiting(engine, ad), awaiting(engine, ad), awaiting(engine, ad)
    report = _load(
        engine,
        ad,
        _csv(
            f"03/09/2026;VIR {_ref(first)};;136,99",
            "03/09/2026;PRLV EDF;54,20;",
            f"04/09/2026;VIR {_ref(second)};;13,70",
            f"04/09/2026;CHQ 123 {_ref(third).lower()};;136,99",
        ),
    )
    assert _outcomes(report) == [(2, MATCHED), (4, AMOUNT), (5, MATCHED)]
    assert report.debits == 1
    assert report.counts == {MATCHED: 2, AMOUNT: 1}
    assert [line.case_id for line in report.matched] == [first.id, third.id]


def test_the_same_statement_loaded_twice_validates_nothing_twice(engine, ad):
    paid, later = awaiting(engine, ad), active_account(engine, ad)
    later_id = draft_of(engine, later.coop_id)
    later_case = read_case(engine, later_id)
    content = _csv(
        f"03/09/2026;VIR {_ref(paid)};;136,99",
        f"03/09/2026;VIR {_ref(later_case)};;136,99",
        "04/09/2026;VIR SANS REFERENCE;;20,00",
    )
    first = _load(engine, ad, content)
    assert _outcomes(first) == [(2, MATCHED), (3, NOT_AWAITING), (4, NO_REFERENCE)]
    with engine.transaction() as tx:
        validation.record_check(tx, paid.id, "commitment", PAUL, {})
    paid_events = len(events(engine, paid.id, "check_payment", "validate"))

    # Meanwhile the second coop submitted: the same statement again, by someone else.
    submit(engine, later_id, later)
    with engine.transaction() as tx:
        tx.fire(later_id, "to_validation", actor=Actor.system("rendu"))
    second = _load(engine, ad, content, PAUL, "releve-bis.csv")
    assert _outcomes(second) == [(2, ALREADY_LOADED), (3, MATCHED), (4, NO_REFERENCE)]
    loaded = second.lines[0]
    assert loaded.case_id == paid.id and loaded.seen_before is not None
    assert "déjà chargée le 07/09/2026" in loaded.message and "releve.csv" in loaded.message
    assert second.lines[2].seen_before is not None
    assert len(events(engine, paid.id, "check_payment", "validate")) == paid_events
    assert read_case(engine, later_id).data["checks"]["payment"]["source"] == "statement"

    third = _load(engine, ad, content)
    assert _outcomes(third) == [(2, ALREADY_LOADED), (3, ALREADY_LOADED), (4, NO_REFERENCE)]
    assert len(events(engine, later_id, "check_payment")) == 1
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(StatementLine)) == 3


def test_two_equal_transfers_the_same_day_are_two_lines(engine, ad):
    case = awaiting(engine, ad)
    line = f"03/09/2026;VIR {_ref(case)};;136,99"
    report = _load(engine, ad, _csv(line, line))
    assert _outcomes(report) == [(2, MATCHED), (3, ALREADY_PAID)]
    again = _load(engine, ad, _csv(line, line, line))
    assert _outcomes(again) == [(2, ALREADY_LOADED), (3, ALREADY_PAID), (4, ALREADY_PAID)]
    assert len(events(engine, case.id, "check_payment")) == 1


def test_unreadable_lines_are_reported_by_their_number_the_others_read(engine, ad):
    case = awaiting(engine, ad)
    report = _load(
        engine,
        ad,
        _csv(
            "01/09/2026;PRLV ASSURANCE;12,00;",
            "02/09/2026;VIR SANS REFERENCE;;5,00",
            "31/02/2026;VIR ECOLE;;136,99",
            "03/09/2026;VIR MONTANT;;12,3456",
            f"03/09/2026;VIR {_ref(case)};;136,99",
        ),
    )
    assert _outcomes(report) == [(3, NO_REFERENCE), (4, INVALID), (5, INVALID), (6, MATCHED)]
    assert report.lines[1].message == "Ligne 4 : date illisible « 31/02/2026 » (jj/mm/aaaa)."
    assert report.lines[2].message.startswith("Ligne 5 : montant illisible « 12,3456 »")
    with engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(StatementLine)) == 2


def test_a_windows_1252_export_with_its_bank_preamble(engine, ad):
    case = awaiting(engine, ad)
    content = "\r\n".join(
        [
            "Compte courant n° 12345678901;;;",
            "Période du 01/09/2026 au 06/09/2026;;;",
            "",
            "Date opération;Date valeur;Libellé;Débit euros;Crédit euros;",
            f"03/09/2026;04/09/2026;VIR COOPÉRATIVE ÉCOLE {_ref(case)};;136,99;",
            "03/09/2026;03/09/2026;VIR DON;;1 234,56;",
            "Solde au 06/09/2026;;;;1 371,55;",
        ]
    ).encode("cp1252")
    report = _load(engine, ad, content)
    assert _outcomes(report) == [(5, MATCHED), (6, NO_REFERENCE)]  # the balance skipped
    assert report.lines[0].label == f"VIR COOPÉRATIVE ÉCOLE {_ref(case)}"
    assert report.lines[1].amount_cents == 123456
    assert report.lines[0].booked_on == date(2026, 9, 3)  # the operation's date


def test_a_utf8_bom_export_with_a_signed_amount_column(engine, ad):
    case = awaiting(engine, ad)
    content = "\ufeff" + "\n".join(
        [
            "Date;Libellé simplifié;Informations complémentaires;Montant",
            "03/09/2026;VIR INST;" + _ref(case).replace("-", " ") + ";+136,99",
            "03/09/2026;CB LIBRAIRIE;;-45,10",
        ]
    )
    report = _load(engine, ad, content.encode())
    assert _outcomes(report) == [(2, MATCHED)]
    assert report.debits == 1


def test_a_file_without_header_is_refused_whole(engine, ad):
    report = _load(engine, ad, b"03/09/2026;VIR;136,99\r\n")
    assert report.file_error == NO_HEADER and report.lines == []
    assert _load(engine, ad, b"  \r\n").file_error == "Le fichier est vide."


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("136,99", 13699),
        ("1 234,56", 123456),
        ("1\u00a0234,56", 123456),
        ("1\u202f234,56 €", 123456),
        ("1.234,56", 123456),
        ("12,5", 1250),
        ("-12,50", -1250),
        ("+8", 800),
        ("1234.56", 123456),
        ("1 234", 123400),
    ],
)
def test_amounts_as_banks_write_them(typed, cents):
    assert parse_amount(typed) == cents


@pytest.mark.parametrize("typed", ["", "abc", "12,345", "1,2,3", "1 23,00", "١٢,٠٠", "12 €€ 3"])
def test_amounts_that_are_not(typed):
    with pytest.raises(ValueError):
        parse_amount(typed)


def test_dates_as_banks_write_them():
    assert parse_date("12/09/2026") == parse_date("12-09-2026") == date(2026, 9, 12)
    assert parse_date("12.09.26") == parse_date("2026-09-12") == date(2026, 9, 12)
    for bad in ("2026/09/12", "12/13/2026", "le 12 septembre", ""):
        with pytest.raises(ValueError):
            parse_date(bad)


def test_references_in_a_label_and_fingerprints():
    assert references("VIR adh 2026 0610524f ECOLE") == ["ADH-2026-0610524F"]
    assert references("ADH20260610524F / ADH-2026-0610524F") == ["ADH-2026-0610524F"]
    assert references("ADHESION 2026") == []
    rows = parse_statement(_csv("12/09/2026;VIR  X;;1,00", "12/09/2026;vir x;;1,00")).rows
    one, two = fingerprints(6, rows)
    assert one != two  # twins of one file: ranked
    assert fingerprints(6, rows[:1]) == [one]  # the label's case and spaces do not count
    assert fingerprints(50, rows[:1]) != [one]  # another AD's statement
