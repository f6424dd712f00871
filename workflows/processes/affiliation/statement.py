"""Payments validated from a bank statement: each credit line of an AD's statement
(:mod:`.statement_csv`) is matched to the affiliation whose payment reference its label
carries (``ADH-2026-0610524F``), and its payment is checked when the amount is the
frozen fee (:func:`.validation.record_check`, source ``statement``).

Every line read is kept (:class:`StatementLine`) under a fingerprint — the AD, the
line's date, amount, label and its rank among identical lines of the file — that is
unique: a line loaded before and matched is only reported (``already_loaded``), so the
same statement loaded twice validates nothing twice; a line that did not match is
examined again (the affiliation may have been submitted since). Each line is one
transaction that locks the case: a manual check of the same payment at the same time
makes one of the two find it done (``already_paid``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.engine.actor import Actor
from workflows.engine.engine import Engine
from workflows.engine.errors import CoopflowError
from workflows.formatting import datetime_fr, euros
from workflows.models import Case, Coop, StatementLine
from workflows.processes.affiliation.definition import AWAITING_VALIDATION, PROCESS
from workflows.processes.affiliation.form import PAYMENT, REFERENCE, payment_reference
from workflows.processes.affiliation.statement_csv import Row, parse_statement
from workflows.processes.affiliation.validation import (
    STATEMENT,
    AlreadyChecked,
    AmountMismatch,
    NotAwaiting,
    checked_by,
    expected_cents,
    record_check,
    state_label,
)

MATCHED = "matched"
NO_REFERENCE = "no_reference"
UNKNOWN_REFERENCE = "unknown_reference"
AMOUNT = "amount"
NOT_AWAITING = "not_awaiting"
ALREADY_PAID = "already_paid"
ALREADY_LOADED = "already_loaded"
#: Not kept (a reload reads the line again): a date or amount unreadable, or a check
#: the engine refused for another reason (said in the message).
INVALID = "invalid"
REFUSED = "refused"
OUTCOME_LABELS = {
    MATCHED: "Paiement validé",
    NO_REFERENCE: "Sans référence d'adhésion",
    UNKNOWN_REFERENCE: "Référence inconnue",
    AMOUNT: "Montant différent",
    NOT_AWAITING: "Adhésion pas en attente de paiement",
    ALREADY_PAID: "Paiement déjà validé",
    ALREADY_LOADED: "Ligne déjà chargée",
    INVALID: "Ligne illisible",
    REFUSED: "Validation refusée",
}
FILENAME_MAX = 200


@dataclass
class ReportLine:
    """What became of one line of the file."""

    number: int
    booked_on: date | None
    amount_cents: int | None
    label: str
    outcome: str
    message: str
    reference: str | None = None
    case_id: int | None = None
    coop: str = ""
    #: When the line had been loaded before (examined again, or only reported).
    seen_before: datetime | None = None
    #: The line validated the affiliation (its last item).
    validated: bool = False

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[self.outcome]

    @property
    def amount(self) -> str:
        return euros(self.amount_cents) if self.amount_cents is not None else ""


@dataclass
class StatementReport:
    """The report of one load: every credit line (and the lines refused) in the file's
    order, the debits ignored, or why the file could not be read at all."""

    filename: str
    lines: list[ReportLine] = field(default_factory=list)
    debits: int = 0
    file_error: str | None = None

    def of(self, *outcomes: str) -> list[ReportLine]:
        return [line for line in self.lines if line.outcome in outcomes]

    @property
    def matched(self) -> list[ReportLine]:
        return self.of(MATCHED)

    @property
    def already_loaded(self) -> list[ReportLine]:
        return self.of(ALREADY_LOADED)

    @property
    def not_matched(self) -> list[ReportLine]:
        return [line for line in self.lines if line.outcome not in (MATCHED, ALREADY_LOADED)]

    @property
    def counts(self) -> Counter[str]:
        return Counter(line.outcome for line in self.lines)


def normalise_label(label: str) -> str:
    return " ".join(label.split()).upper()


def fingerprints(ad_id: int, rows: list[Row]) -> list[str]:
    """Each row's fingerprint: the same line twice in one file (two equal transfers the
    same day) keeps two fingerprints by its rank among its twins."""
    seen: Counter[tuple[date, int, str]] = Counter()
    out = []
    for row in rows:
        key = (row.booked_on, row.amount_cents, normalise_label(row.label))
        rank = seen[key]
        seen[key] += 1
        text = f"{ad_id}|{key[0].isoformat()}|{key[1]}|{key[2]}|{rank}"
        out.append(hashlib.sha256(text.encode()).hexdigest())
    return out


def references(label: str) -> list[str]:
    """The affiliation references in a label, as :func:`payment_reference` writes them."""
    return list(
        dict.fromkeys(
            payment_reference(int(m.group(1)), m.group(2)) for m in REFERENCE.finditer(label)
        )
    )


def find_case(session: Session, ad_id: int, reference: str) -> Case | None:
    """The AD's affiliation of that year and coop number (``ADH-<year>-<number>``)."""
    _, year, number = reference.split("-", 2)
    return session.scalars(
        select(Case)
        .join(Coop, Coop.id == Case.coop_id)
        .where(
            Case.process == PROCESS,
            Case.ad_id == ad_id,
            Case.school_year == int(year),
            Coop.ad_id == ad_id,
            func.upper(Coop.affiliation_number) == number.upper(),
        )
        .order_by(Case.id.desc())
        .limit(1)
    ).one_or_none()


def load_statement(
    engine: Engine, ad_id: int, content: bytes, filename: str, actor: Actor
) -> StatementReport:
    """Read the statement of AD ``ad_id`` loaded by ``actor`` (a staff member who may
    act on that AD: the caller checks) and check the payments it matches."""
    name = filename[:FILENAME_MAX]
    parsed = parse_statement(content)
    report = StatementReport(name, debits=parsed.debits, file_error=parsed.file_error)
    for number, label, message in parsed.invalid:
        report.lines.append(ReportLine(number, None, None, label, INVALID, message))
    for row, fingerprint in zip(parsed.rows, fingerprints(ad_id, parsed.rows), strict=True):
        report.lines.append(_load_line(engine, ad_id, row, fingerprint, name, actor))
    report.lines.sort(key=lambda line: line.number)
    return report


def _load_line(
    engine: Engine, ad_id: int, row: Row, fingerprint: str, filename: str, actor: Actor
) -> ReportLine:
    line = ReportLine(row.number, row.booked_on, row.amount_cents, row.label, MATCHED, "")
    try:
        with engine.transaction() as tx:
            stored = tx.session.scalars(
                select(StatementLine)
                .where(StatementLine.fingerprint == fingerprint)
                .with_for_update()
            ).one_or_none()
            if stored is not None:
                line.seen_before = stored.loaded_at
                if stored.outcome == MATCHED:
                    return _reported(line, stored)
            else:
                stored = StatementLine(
                    ad_id=ad_id,
                    fingerprint=fingerprint,
                    booked_on=row.booked_on,
                    amount_cents=row.amount_cents,
                    label=row.label,
                    outcome=MATCHED,
                )
                tx.session.add(stored)
                tx.session.flush()  # a twin loaded at the same time fails here
            _match(tx, ad_id, row, stored, line, actor)
            stored.reference, stored.case_id = line.reference, line.case_id
            stored.outcome, stored.message = line.outcome, line.message
            stored.filename, stored.loaded_by = filename, actor.name
            stored.loaded_at = tx.now
    except IntegrityError:
        # The same line loaded by someone else at this very moment: theirs counts.
        line.outcome, line.message = ALREADY_LOADED, "Ligne chargée au même moment par ailleurs."
        line.reference = line.case_id = None
    except CoopflowError as exc:
        # The check was refused for another reason (nothing kept: a reload retries).
        line.outcome, line.message = REFUSED, f"Paiement non validé : {exc}"
    return line


def _reported(line: ReportLine, stored: StatementLine) -> ReportLine:
    line.outcome, line.reference, line.case_id = ALREADY_LOADED, stored.reference, stored.case_id
    by = f" par {stored.loaded_by}" if stored.loaded_by else ""
    line.message = (
        f"Ligne déjà chargée le {datetime_fr(stored.loaded_at)}{by} ({stored.filename}) : "
        f"son paiement est déjà validé, rien n'est refait."
    )
    return line


def _match(
    tx: Any, ad_id: int, row: Row, stored: StatementLine, line: ReportLine, actor: Actor
) -> None:
    """Find the line's affiliation and check its payment; ``line`` says what happened."""
    found = references(row.label)
    if not found:
        line.outcome = NO_REFERENCE
        line.message = "Aucune référence d'adhésion (ADH-année-numéro) dans le libellé."
        return
    case = None
    for reference in found:
        case = find_case(tx.session, ad_id, reference)
        line.reference = reference
        if case is not None:
            break
    if case is None:
        line.outcome = UNKNOWN_REFERENCE
        line.message = f"Aucune adhésion de l'AD ne porte la référence {found[0]}."
        line.reference = found[0]
        return
    case = tx.lock(case.id)
    line.case_id, line.coop = case.id, f"{case.coop.name} ({case.coop.affiliation_number})"
    if case.state != AWAITING_VALIDATION:
        line.outcome = NOT_AWAITING
        line.message = f"L'adhésion est « {state_label(case)} » : elle n'attend pas de paiement."
        return
    try:
        recorded = record_check(
            tx,
            case.id,
            PAYMENT,
            actor,
            {
                "amount_cents": row.amount_cents,
                "received_on": row.booked_on,
                "reference": line.reference,
                "source": STATEMENT,
                "statement_line_id": stored.id,
            },
            f"Ligne {row.number} du relevé.",
        )
    except AlreadyChecked as exc:
        line.outcome = ALREADY_PAID
        line.message = f"Le paiement de cette adhésion est déjà validé {checked_by(exc.check)}."
    except AmountMismatch as exc:
        line.outcome, line.message = AMOUNT, str(exc)
    except NotAwaiting as exc:
        line.outcome, line.message = NOT_AWAITING, str(exc)
    else:
        line.validated = recorded.validated
        fee = euros(expected_cents(recorded.case))
        line.message = (
            f"Paiement de {fee} validé : l'adhésion est validée."
            if recorded.validated
            else f"Paiement de {fee} validé ; l'adhésion attend encore ses autres pièces."
        )
