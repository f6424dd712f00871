"""Import of an AD's cooperatives and mandataires from a spreadsheet's CSV export.

``coop_csv.parse_coops`` checks a file without the database (the preview);
``import_coops`` writes it in the caller's transaction, keyed on (AD, affiliation number).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select

from workflows.coop_csv import (
    COLUMNS,
    COOP_FIELDS,
    CoopRow,
    ParsedFile,
    RowError,
    fold,
    parse_coops,
)
from workflows.models import AD, Case, Coop, Mandataire
from workflows.processes.invitation.address_change import RESENDABLE, resend_to_new_address
from workflows.processes.invitation.definition import CREATED
from workflows.processes.invitation.definition import PROCESS as INVITATION

if TYPE_CHECKING:
    from workflows.engine.engine import Actor, Engine, UnitOfWork

#: Values per ``IN (...)`` query, and new coops per batch of inserts.
CHUNK = 500
#: Lines per transaction of an import at the command line.
PART = 1_000
_T = TypeVar("_T")


@dataclass
class ImportReport:
    """What an import did; ``invited`` counts every invitation it queued, new coops included."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invited: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """« 12 coopératives créées, 1 mise à jour, 3 inchangées, 2 lignes en erreur »."""
        if self.file_errors:
            return "Fichier refusé, rien n'a été importé : " + " ".join(self.file_errors)
        parts = [
            _plural(self.created, "coopérative créée", "coopératives créées"),
            _plural(self.updated, "mise à jour", "mises à jour"),
            _plural(self.unchanged, "inchangée", "inchangées"),
            _plural(len(self.errors), "ligne en erreur", "lignes en erreur"),
        ]
        if self.invited:
            parts.append(_plural(self.invited, "invitation envoyée", "invitations envoyées"))
        return ", ".join(parts)


def _plural(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n <= 1 else plural}"


# Reading ------------------------------------------------------------------------------


def import_coops(
    tx: UnitOfWork, ad: AD, content: bytes, *, invite: bool, actor: Actor
) -> ImportReport:
    """Create or update the file's coops in ``tx``; nothing is written if the file is refused."""
    return _Import(tx, ad, invite=invite, actor=actor).run(parse_coops(content, ad))


def import_coops_in_parts(
    engine: Engine, ad_id: int, content: bytes, *, invite: bool, actor: Actor, part: int = PART
) -> ImportReport:
    """The same import, for a whole AD's file at the command line: checked whole first (a
    refused file writes nothing), then written ``part`` lines per transaction, so the
    invitations of the first lines leave while the next ones are imported. Lines are
    independent (a file's duplicates are refused by the check), and a run stopped midway
    is finished by running it again: the import is keyed on (AD, affiliation number)."""
    with engine.db.read() as session:
        ad = session.get(AD, ad_id)
        assert ad is not None, f"AD {ad_id} introuvable"
        parsed = parse_coops(content, ad)
    report = ImportReport(errors=list(parsed.errors), file_errors=list(parsed.file_errors))
    if parsed.file_errors:
        return report
    for start in range(0, len(parsed.rows), part):
        rows = parsed.rows[start : start + part]
        with engine.transaction() as tx:
            ad = tx.session.get(AD, ad_id)
            assert ad is not None
            done = _Import(tx, ad, invite=invite, actor=actor).run(
                replace(parsed, rows=rows, errors=[])
            )
        report.created += done.created
        report.updated += done.updated
        report.unchanged += done.unchanged
        report.invited += done.invited
        report.errors.extend(done.errors)
    report.errors.sort(key=lambda e: e.line)
    return report


class _Import:
    """One run of ``import_coops``: what the database holds for the file, and the report."""

    def __init__(self, tx: UnitOfWork, ad: AD, *, invite: bool, actor: Actor) -> None:
        self.tx, self.ad, self.invite, self.actor = tx, ad, invite, actor
        self.report = ImportReport()
        self.coops: dict[str, Coop] = {}
        self.people: dict[int, list[Mandataire]] = {}
        self.cases: dict[int, Case] = {}  # the latest invitation case of each coop
        self.owners: dict[str, Mandataire] = {}  # by email

    def run(self, parsed: ParsedFile) -> ImportReport:
        self.report.errors, self.report.file_errors = list(parsed.errors), list(parsed.file_errors)
        if parsed.file_errors:
            return self.report
        # Only the optional columns the file has are compared: a missing one keeps its data.
        fields = [c.field for c in COLUMNS if c.field in COOP_FIELDS and c.header in parsed.columns]
        self._load(parsed.rows)
        new: list[CoopRow] = []
        for row in parsed.rows:
            coop = self.coops.get(row.affiliation_number)
            person = self._mandataire(coop) if coop is not None else None
            owner = self.owners.get(row.mandataire_email)
            if owner is not None and (person is None or owner.id != person.id):
                other = owner.coop
                where = (
                    f"la coopérative {other.affiliation_number}"
                    if other.ad_id == self.ad.id
                    else "une coopérative d'une autre AD"
                )
                self._error(
                    row,
                    f"L'email du mandataire {row.mandataire_email} est déjà utilisé par {where}",
                )
            elif coop is None:
                new.append(row)
                if len(new) == CHUNK:
                    self._create(new)
                    new = []
            else:
                self._update(row, coop, person, fields)
        self._create(new)
        self.tx.session.flush()
        self.report.errors.sort(key=lambda e: e.line)
        return self.report

    def _load(self, rows: Sequence[CoopRow]) -> None:
        """A few bulk queries instead of one per row."""
        session = self.tx.session
        for chunk in _chunks([r.affiliation_number for r in rows]):
            coops = select(Coop).where(Coop.ad_id == self.ad.id, Coop.affiliation_number.in_(chunk))
            self.coops.update((c.affiliation_number, c) for c in session.scalars(coops))
        for ids in _chunks([c.id for c in self.coops.values()]):
            people = select(Mandataire).where(Mandataire.coop_id.in_(ids)).order_by(Mandataire.id)
            for m in session.scalars(people):
                self.people.setdefault(m.coop_id, []).append(m)
            cases = select(Case).where(Case.process == INVITATION, Case.coop_id.in_(ids))
            self.cases.update((c.coop_id, c) for c in session.scalars(cases.order_by(Case.id)))
        for emails in _chunks([r.mandataire_email for r in rows]):
            owners = select(Mandataire).where(Mandataire.email.in_(emails))  # with their coop
            self.owners.update((m.email, m) for m in session.scalars(owners))

    def _mandataire(self, coop: Coop) -> Mandataire | None:
        """The mandataire the coop's invitation is for, else its latest one."""
        people, case = self.people.get(coop.id, []), self.cases.get(coop.id)
        wanted = case.data.get("mandataire_id") if case is not None else None
        return next((m for m in people if m.id == wanted), people[-1] if people else None)

    def _create(self, rows: Sequence[CoopRow]) -> None:
        """Insert a batch of coops, then their mandataires, then start their invitations."""
        tx = self.tx
        coops = [
            Coop(
                ad_id=self.ad.id,
                affiliation_number=r.affiliation_number,
                created_at=tx.now,
                updated_at=tx.now,
                **{f: getattr(r, f) for f in COOP_FIELDS},
            )
            for r in rows
        ]
        tx.session.add_all(coops)
        tx.session.flush()
        people = [
            Mandataire(coop_id=c.id, created_at=tx.now, **r.person)
            for c, r in zip(coops, rows, strict=True)
        ]
        tx.session.add_all(people)
        tx.session.flush()
        tx.start_many(
            INVITATION,
            (
                (coop.id, {"mandataire_id": person.id})
                for coop, person in zip(coops, people, strict=True)
            ),
            actor=self.actor,
            trigger="invite" if self.invite else None,
        )
        self.report.invited += len(rows) if self.invite else 0
        self.report.created += len(rows)

    def _update(
        self, row: CoopRow, coop: Coop, person: Mandataire | None, fields: list[str]
    ) -> None:
        """Bring an existing coop in line with its row, writing only what differs."""
        tx, wanted = self.tx, row.person
        person_changes = {k: v for k, v in wanted.items() if person and getattr(person, k) != v}
        if person is not None and person.password_hash is not None and person_changes:
            if person.email.lower() != row.mandataire_email or any(
                fold(getattr(person, k)) != fold(wanted[k]) for k in ("first_name", "last_name")
            ):
                self._error(
                    row,
                    "Le mandataire a déjà un compte ; un changement de mandataire "
                    "passe par l'affiliation",
                )
                return
            person_changes = {}  # same person: their account keeps its own spelling
        coop_changes = {f: getattr(row, f) for f in fields if getattr(coop, f) != getattr(row, f)}
        for name, value in coop_changes.items():
            setattr(coop, name, value)
        if coop_changes:
            coop.updated_at = tx.now
        for name, value in person_changes.items():
            setattr(person, name, value)
        case = self.cases.get(coop.id)
        if person is None:  # a coop created outside the import, without its mandataire
            person = Mandataire(coop_id=coop.id, created_at=tx.now, **wanted)
            tx.session.add(person)
            tx.session.flush()
            person_changes = wanted
        if case is None:
            self._start(coop, person)
        elif "email" in person_changes and case.state in RESENDABLE:
            resend_to_new_address(
                tx, case, person, actor=self.actor, comment="email du mandataire modifié"
            )
            self.report.invited += 1
        elif self.invite and case.state == CREATED:
            tx.fire(case.id, "invite", actor=self.actor)
            self.report.invited += 1
        if coop_changes or person_changes or case is None:
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    def _start(self, coop: Coop, person: Mandataire) -> None:
        data, trigger = {"mandataire_id": person.id}, "invite" if self.invite else None
        self.tx.start(INVITATION, coop.id, actor=self.actor, data=data, trigger=trigger)
        self.report.invited += int(self.invite)

    def _error(self, row: CoopRow, message: str) -> None:
        self.report.errors.append(RowError(row.line, message))


def _chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
