"""B3's database: a back-office at scale, written with PostgreSQL ``COPY``.

Five ADs with their staff, coops and mandataires, and the coops' cases. Every coop has
its current invitation, spread over the process's states, and once the account is
active its space check; a given number of these are stuck, for each reason the
definitions know (link expired, address refused, step failed, task overdue). Cases of
earlier years (active, confirmed) make up the total. Each case has the history the
engine would have written: events, steps, emails, open tasks and the timers still
running. Times are relative to the hour the seed runs (the pages compute ages from the
real clock); everything else comes from ``random.Random(seed)``.

Rows are generated as COPY text, chunk by chunk, and streamed to one connection per
table at once, foreign key triggers off (``session_replication_role = replica``: the
generator keeps the rows consistent); then the sequences are moved past the ids and the
tables vacuumed and analysed, as autovacuum would leave them.
"""

from __future__ import annotations

import json
import random
import threading
import time
import unicodedata
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import make_url

from workflows.formatting import date_fr
from workflows.password_hashing import hash_password
from workflows.processes.invitation.definition import DEFINITION as INVITATION
from workflows.processes.space_check.definition import DEFINITION as SPACE_CHECK

DAY = 86_400
PASSWORD = "Bench*Occe2026"
NATIONAL_EMAIL = "nationale@bench.occe.coop"
AD06_EMAIL = "equipe06@bench.occe.coop"
#: Cases generated between two writes to the COPY streams.
CHUNK = 20_000

#: (code, department, academic domain, share of the coops)
ADS = (
    ("AD06", "Alpes-Maritimes", "ac-nice.fr", 0.22),
    ("AD13", "Bouches-du-Rhône", "ac-aix-marseille.fr", 0.26),
    ("AD33", "Gironde", "ac-bordeaux.fr", 0.14),
    ("AD69", "Rhône", "ac-lyon.fr", 0.18),
    ("AD75", "Paris", "ac-paris.fr", 0.20),
)
TOWNS = {
    "AD06": "Nice 06000,Antibes 06600,Cannes 06400,Grasse 06130,Menton 06500",
    "AD13": "Marseille 13001,Aix-en-Provence 13100,Arles 13200,Aubagne 13400,Martigues 13500",
    "AD33": "Bordeaux 33000,Mérignac 33700,Pessac 33600,Talence 33400,Libourne 33500",
    "AD69": "Lyon 69003,Villeurbanne 69100,Vénissieux 69200,Caluire-et-Cuire 69300,Bron 69500",
    "AD75": "Paris 75011,Paris 75013,Paris 75015,Paris 75018,Paris 75020",
}
FIRST = ("Éloïse", "Mathis", "Inès", "Hugo", "Léa", "Nathan", "Chloé", "Louis", "Zoé", "Amélie")
LAST = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy", "Lefèvre")
PATRONS = [
    "Jules-Ferry",
    "Jean-Jaurès",
    "Victor-Hugo",
    "Louis-Pasteur",
    "Jacques-Prévert",
    "Marie-Curie",
    "Jean-Moulin",
    "Paul-Langevin",
    "Anatole-France",
    "Saint-Exupéry",
    "Simone-Veil",
    "Les Tilleuls",
    "Les Oliviers",
]
LEVELS = ("maternelle", "élémentaire", "primaire")
SEND_ERRORS = (
    "SMTP injoignable : [Errno 111] Connection refused",
    "SMTP : délai dépassé (30 s)",
    "SMTP 421 4.7.0 Trop de connexions",
)
BOUNCES = (
    "550 5.1.1 Recipient address rejected: User unknown",
    "550 5.1.2 Domaine inconnu",
    "552 5.2.2 Boîte aux lettres pleine",
)
PROBLEMS = (
    "Le RIB affiché n'est pas celui de la coopérative.",
    "Un ancien mandataire apparaît encore parmi les administrateurs.",
    "L'adresse de l'école est erronée.",
)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "workers/providers/mail/client.py", line 88, in send\n'
    "    smtp.connect(self.host, self.port)\nConnectionRefusedError: {error}"
)

#: The stuck cases by reason (shares of ``stuck``): expired, refused address, failed send,
#: failed space-check notification, space-check task overdue.
STUCK_SHARES = (
    ("expired", 0.5),
    ("bounced", 0.16),
    ("send_failed", 0.1),
    ("notify_failed", 0.04),
    ("overdue", 0.2),
)
#: The other current invitations and space checks (shares of coops); the remaining
#: invitations are active, the remaining space checks confirmed.
INVITATION_SHARES = (
    ("created", 0.03),
    ("sending", 0.01),
    ("invited", 0.15),
    ("password_set", 0.03),
    ("cancelled", 0.02),
)
SPACE_SHARES = (("to_check", 0.14), ("problem", 0.02), ("cancelled", 0.01))
#: How many days ago a current invitation was created (by outcome; others: 1 to 70), and a
#: space check decided (confirmed, problem reported; a task is due 3 days after).
INVITATION_AGES = {
    "created": (0.05, 5.0),
    "sending": (0.0002, 0.0014),
    "invited": (0.1, 6.9),
    "expired": (7.2, 80.0),
    "password_set": (0.5, 30.0),
}
DECISION_AGES = {"overdue": (3.1, 60.0), "problem": (0.05, 2.9), "confirmed": (0.1, 50.0)}

COLUMNS = {
    "ads": "id, code, name, email, phone, address, academic_domains, invitation_validity_days,"
    " password_min_length, created_at",
    "staff_users": "id, email, full_name, password_hash, role, ad_id, is_active, created_at",
    "coops": "id, ad_id, affiliation_number, name, school_name, street, postal_code, city,"
    " school_email, phone, created_at, updated_at",
    "mandataires": "id, coop_id, first_name, last_name, email, password_hash, password_set_at,"
    " last_login_at, created_at",
    "cases": "id, process, definition_version, coop_id, ad_id, state, data, version, created_at,"
    " updated_at, state_entered_at, stuck_reason, stuck_message, stuck_action, stuck_since,"
    " assignee_id",
    "case_events": "id, case_id, at, actor, kind, trigger, from_state, to_state, payload, comment",
    "steps": "id, case_id, name, args, status, attempts, max_attempts, idempotency_key,"
    " not_before, lease_until, last_error, last_traceback, result, created_at, updated_at,"
    " finished_at",
    "emails": "id, idempotency_key, kind, case_id, coop_id, to_address, subject, text_body,"
    " html_body, message_id, status, error, created_at, sent_at",
    "tasks": "id, case_id, ad_id, kind, title, state, status, due_at, assignee_id, created_at,"
    " created_by, overdue_at, note",
    "timers": "id, case_id, name, state, due_at",
}
N = "\\N"  # NULL in COPY text


@dataclass
class Seeded:
    """What the benchmark needs to know about the database it got."""

    seconds: float
    rows: dict[str, int]
    #: Stuck cases of every reason, shuffled: the case pages to open.
    stuck_case_ids: list[int]
    #: Mandataire emails and words of coop names that find cases.
    search_terms: list[str]
    ad_codes: list[str] = field(default_factory=lambda: [a[0] for a in ADS])


def seed_cases(url: str, *, coops: int, cases: int, stuck: int, seed: int) -> Seeded:
    """Fill the (migrated, empty) database at ``url``; see the module's docstring."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = int(time.time()) // 3600 * 3600
    world = _World(rng, coops)
    plan = _plan(rng, world, coops, cases, stuck, now)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connections = [psycopg.connect(conninfo) for _ in COLUMNS]
    try:
        indexes = _drop_indexes(connections[0])
        with ExitStack() as stack:
            streams = {}
            for table, conn in zip(COLUMNS, connections, strict=True):
                conn.execute("SET session_replication_role = replica")
                conn.execute("SET synchronous_commit = off")
                cursor = stack.enter_context(conn.cursor())
                sql = f"COPY {table} ({COLUMNS[table]}) FROM STDIN"
                streams[table] = stack.enter_context(cursor.copy(sql))
            writer = _Writer(rng, world, streams, now)
            writer.people(since=plan[0][0] - 30 * DAY)
            for start in range(0, len(plan), CHUNK):
                for case_id, entry in enumerate(plan[start : start + CHUNK], start + 1):
                    writer.case(case_id, *entry)
                writer.flush()
        for conn in connections:
            conn.commit()
        rows = dict(writer.ids)
        _finish(connections, indexes, rows)
    finally:
        for conn in connections:
            conn.close()
    ids = writer.stuck_ids
    rng.shuffle(ids)
    return Seeded(time.perf_counter() - started, rows, ids[:500], world.search_terms(rng, 200))


class _World:
    """The ADs, staff, coops and mandataires, as lists indexed by id."""

    def __init__(self, rng: random.Random, count: int) -> None:
        self.hash = hash_password(PASSWORD)  # argon2 once: every account shares it
        self.staff: list[tuple[int, str, str, str, int | None]] = [
            (1, NATIONAL_EMAIL, "Nadia Nationale", "national", None),
            (2, "national2@bench.occe.coop", "Bruno Fédéral", "national", None),
        ]
        #: AD id → the ids of its staff who act on cases (not read-only).
        self.agents: dict[int, list[int]] = {}
        self.staff_name: dict[int, str] = {1: "Nadia Nationale", 2: "Bruno Fédéral"}
        for ad_id, (code, *_rest) in enumerate(ADS, 1):
            for n in range(4):
                staff_id = len(self.staff) + 1
                email = AD06_EMAIL if code == "AD06" and n == 0 else f"agent{n}.{code}@occe.coop"
                name = f"{FIRST[(ad_id + n) % len(FIRST)]} {LAST[(ad_id * 3 + n) % len(LAST)]}"
                role = "readonly" if n == 3 else "ad"
                self.staff.append((staff_id, email.lower(), name, role, ad_id))
                self.staff_name[staff_id] = name
                if role == "ad":
                    self.agents.setdefault(ad_id, []).append(staff_id)
        weights = [a[3] for a in ADS]
        self.coop_ad = [0, *rng.choices(range(1, len(ADS) + 1), weights, k=count)]
        self.coop_name = [""]
        self.patron = [""]
        self.town = [("", "")]
        self.first = [""]
        self.last = [""]
        self.email = [""]
        for coop_id in range(1, count + 1):
            code, _dept, domain, _share = ADS[self.coop_ad[coop_id] - 1]
            town, postal = rng.choice(TOWNS[code].split(",")).rsplit(" ", 1)
            self.town.append((town, postal))
            patron = rng.choice(PATRONS)
            self.patron.append(patron)
            self.coop_name.append(f"Coopérative {rng.choice(LEVELS)} {patron} {town} {coop_id}")
            first, last = rng.choice(FIRST), rng.choice(LAST)
            self.first.append(first)
            self.last.append(last)
            self.email.append(f"{_ascii(first)}.{_ascii(last)}{coop_id}@{domain}")
        #: Whether the mandataire has a password (an invitation went past ``invited``).
        self.has_account = [False] * (count + 1)

    def search_terms(self, rng: random.Random, count: int) -> list[str]:
        """Half emails (one mandataire), half two words of a coop's name (a few coops)."""
        out = []
        for n in range(count):
            coop_id = rng.randrange(1, len(self.email))
            if n % 2 == 0:
                out.append(self.email[coop_id])
            else:
                word = self.patron[coop_id].replace(" ", "-").split("-")[-1]
                out.append(f"{word} {self.town[coop_id][0]}")
        return out


def _plan(
    rng: random.Random, world: _World, coops: int, cases: int, stuck: int, now: int
) -> list[tuple[int, int, str, str, int]]:
    """Every case as ``(created_at, coop_id, process, outcome, mark)``, oldest first (ids
    follow creation, as in production). ``mark`` is the time of the case's decisive event:
    first login, confirmation, problem report, cancellation."""
    share = dict(STUCK_SHARES)
    stuck_counts = {k: round(v * stuck) for k, v in share.items()}
    stuck_counts["overdue"] += stuck - sum(stuck_counts.values())
    invitations = {k: stuck_counts[k] for k in ("expired", "bounced", "send_failed")}
    invitations |= {k: round(v * coops) for k, v in INVITATION_SHARES}
    active = coops - sum(invitations.values())
    spaces = {k: stuck_counts[k] for k in ("notify_failed", "overdue")}
    spaces |= {k: round(v * coops) for k, v in SPACE_SHARES}
    spaces["confirmed"] = active - sum(spaces.values())
    past = cases - coops - active
    if spaces["confirmed"] < 0 or past < 0:
        raise ValueError(f"{cases} dossiers dont {stuck} bloqués : incompatible avec {coops} coops")
    inv_outcomes = [k for k, n in invitations.items() for _ in range(n)] + ["active"] * active
    space_outcomes = [k for k, n in spaces.items() for _ in range(n)]
    rng.shuffle(inv_outcomes)
    rng.shuffle(space_outcomes)
    spaces_left = iter(space_outcomes)

    def u(low: float, high: float) -> int:
        return int(rng.uniform(low, high) * DAY)

    plan: list[tuple[int, int, str, str, int]] = []
    for coop_id, outcome in enumerate(inv_outcomes, 1):
        if outcome == "active":
            space = next(spaces_left)
            if space in DECISION_AGES:
                decided = now - u(*DECISION_AGES[space])
                login = decided - u(0.01, 10)
            else:
                login = now - u(0.5, 40)
                decided = (login + now) // 2
            plan.append((login, coop_id, "space_check", space, decided))
            created = login - u(0.05, 6.5)
            plan.append((created, coop_id, "invitation", "active", login))
            world.has_account[coop_id] = True
            continue
        created = now - u(*INVITATION_AGES.get(outcome, (1.0, 70.0)))
        # Set or cancelled while the link was valid (7 days).
        mark = created + int(min(now - created, 6.9 * DAY) * rng.uniform(0.05, 0.95))
        plan.append((created, coop_id, "invitation", outcome, mark))
        world.has_account[coop_id] |= outcome == "password_set"
    order = list(range(1, coops + 1))
    rng.shuffle(order)
    for n in range(past // 2):
        coop_id = order[n % coops]
        created = now - (1 + n // coops) * 365 * DAY - u(0, 70)
        login = created + u(0.1, 6.5)
        plan.append((created, coop_id, "invitation", "active", login))
        space = "cancelled" if rng.random() < 0.05 else "confirmed"
        plan.append((login, coop_id, "space_check", space, login + u(0.1, 20)))
        world.has_account[coop_id] = True
    if past % 2:
        created = now - 400 * DAY
        plan.append((created, order[0], "invitation", "cancelled", created + 3 * DAY))
    plan.sort()
    return plan


class _Writer:
    """Every table's rows as COPY text, buffered and written chunk by chunk."""

    def __init__(self, rng: random.Random, world: _World, streams: dict[str, Any], now: int):
        self.rng, self.world, self.streams, self.now = rng, world, streams, now
        self.lines: dict[str, list[str]] = {table: [] for table in COLUMNS}
        self.ids: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        self.stuck_ids: list[int] = []
        # The case being written: its coop, state, version and last change.
        self.case_id = self.coop_id = self.ad_id = self.version = self.updated = 0
        self.process = self.state = self.person = ""

    def flush(self) -> None:
        for table, lines in self.lines.items():
            if lines:
                self.streams[table].write("".join(lines))
                lines.clear()

    def _row(self, table: str, *values: object) -> int:
        self.ids[table] += 1
        row_id = self.ids[table]
        self.lines[table].append("\t".join((str(row_id), *map(_text, values))) + "\n")
        return row_id

    # The people ---------------------------------------------------------------------

    def people(self, since: int) -> None:
        """ADs, staff, coops and mandataires, all created at ``since``."""
        w, at = self.world, _ts(since)
        for code, dept, domain, _share in ADS:
            name, email, domains = f"OCCE {code[2:]} {dept}", f"{code.lower()}@occe.coop", [domain]
            self._row("ads", code, name, email, "", "", json.dumps(domains), 7, 12, at)
        for _id, email, name, role, ad_id in w.staff:
            self._row("staff_users", email, name, w.hash, role, ad_id, "t", at)
        for coop_id in range(1, len(w.coop_ad)):
            ad_id, name = w.coop_ad[coop_id], w.coop_name[coop_id]
            code, _dept, domain, _share = ADS[ad_id - 1]
            town, postal = w.town[coop_id]
            school = name.replace("Coopérative", "École").rsplit(" ", 2)[0]
            number, street = f"{code[2:]}{coop_id:06d}", f"{coop_id % 150 + 1} rue de la Paix"
            self.lines["coops"].append(
                f"{coop_id}\t{ad_id}\t{number}\t{name}\t{school}\t{street}\t{postal}\t{town}\t"
                f"ce.{number}@{domain}\t\t{at}\t{at}\n"
            )
            account = f"{w.hash}\t{at}\t{at}" if w.has_account[coop_id] else f"{N}\t{N}\t{N}"
            self.lines["mandataires"].append(
                f"{coop_id}\t{coop_id}\t{w.first[coop_id]}\t{w.last[coop_id]}\t"
                f"{w.email[coop_id]}\t{account}\t{at}\n"
            )
        self.ids["coops"] = self.ids["mandataires"] = len(w.coop_ad) - 1
        self.flush()

    # One case -------------------------------------------------------------------------

    def case(
        self, case_id: int, created: int, coop_id: int, process: str, outcome: str, mark: int
    ) -> None:
        w = self.world
        self.case_id, self.coop_id, self.process = case_id, coop_id, process
        self.ad_id = w.coop_ad[coop_id]
        self.version, self.updated = 1, created
        self.person = f"mandataire:{coop_id} {w.first[coop_id]} {w.last[coop_id]}"
        build = self._invitation if process == "invitation" else self._space_check
        entered, stuck = build(created, outcome, mark)
        assignee: int | None = None
        if stuck is not None:
            self.stuck_ids.append(case_id)
            if self.rng.random() < 0.3:  # some are being dealt with
                assignee = self.rng.choice(w.agents[self.ad_id])
                at = min(stuck[3] + self.rng.randint(600, 2 * DAY), self.now - 60)
                note = f"Assigné à {w.staff_name[assignee]}."
                self.event(at, self._staff(assignee), "assign", {"assignee_id": assignee}, note)
        reason, message, action, since = stuck or (N, N, N, None)
        data = f'{{"mandataire_id": {coop_id}}}' if process == "invitation" else "{}"
        self.lines["cases"].append(
            f"{case_id}\t{process}\t1\t{coop_id}\t{self.ad_id}\t{self.state}\t{data}\t"
            f"{self.version}\t{_ts(created)}\t{_ts(self.updated)}\t{_ts(entered)}\t{reason}\t"
            f"{message}\t{action}\t{_ts(since) if since else N}\t{assignee or N}\n"
        )
        self.ids["cases"] = case_id

    def _invitation(self, t: int, outcome: str, mark: int) -> tuple[int, Any]:
        """The invitation's history up to ``outcome``: (state entered at, stuck columns)."""
        rng, importer = self.rng, self._staff(self.world.agents[self.ad_id][0])
        self.state = "created"
        self.event(t, importer, "created")
        if outcome == "created":  # imported without « inviter »
            return t, None
        self.fire(t, importer, "invite", "sending")
        step = self.step("send_invitation", t)
        if outcome == "sending":
            self.step_row(step, "pending", t)
            return t, None
        subject, by_step = "Configurez votre mot de passe", "system étape send_invitation"
        sent = t + rng.randint(5, 90)
        if outcome == "send_failed":
            error = rng.choice(SEND_ERRORS)
            failed = sent + 150 + rng.randint(0, 60)  # five attempts, backoff 10 s doubled
            self.email(step, "invitation", subject, "sending", sent)
            self.step_row(step, "failed", failed, error, attempts=5)
            label = INVITATION.step_by_name["send_invitation"].label
            return t, self.stuck(INVITATION.step_failed, failed, step=label, error=error)
        if outcome == "bounced":
            error, address = rng.choice(BOUNCES), self.world.email[self.coop_id]
            self.email(step, "invitation", subject, "refused", sent, error)
            self.step_row(step, "done", sent)
            self.fire(sent, by_step, "bounce", "bounced", {"email": address, "error": error})
            rule = INVITATION.state_by_name["bounced"].stuck
            return sent, self.stuck(rule, sent, email=address, error=error)
        self.email(step, "invitation", subject, "sent", sent)
        self.step_row(step, "done", sent)
        self.fire(sent, by_step, "sent", "invited")
        chosen = mark - rng.randint(300, 1800)  # the password, a while before the first login
        end = {"expired": sent + 7 * DAY, "invited": self.now, "active": chosen}.get(outcome, mark)
        for n, after in enumerate((3, 6), 1):
            if (at := sent + after * DAY) < end:
                self.fire(at, f"system minuteur reminder_{n}", "remind", "invited")
                reminder = self.step("send_reminder", at)
                self.email(reminder, "reminder", f"Rappel : {subject.lower()}", "sent", at + 5)
                self.step_row(reminder, "done", at + 5)
        if outcome == "invited":
            self._timers(("reminder_1", 3), ("reminder_2", 6), ("expiry", 7), since=sent)
            return sent, None
        if outcome == "expired":
            self.fire(end, "system minuteur expiry", "expire", "expired")
            return end, self.stuck(INVITATION.state_by_name["expired"].stuck, end)
        if outcome == "cancelled":
            self.fire(mark, importer, "cancel", "cancelled", comment="Coopérative fermée.")
            return mark, None
        if outcome == "password_set":
            self.fire(mark, self.person, "set_password", "password_set")
            return mark, None
        self.fire(chosen, self.person, "set_password", "password_set")
        self.fire(mark, self.person, "first_login", "active")
        return mark, None

    def _space_check(self, t: int, outcome: str, mark: int) -> tuple[int, Any]:
        """The space check's history up to ``outcome``: (state entered at, stuck columns)."""
        rng = self.rng
        self.state = "to_check"
        self.event(t, "system prérequis rempli", "created")
        step = self.step("notify_mandataire", t)
        subject = f"{self.world.coop_name[self.coop_id]} : « {SPACE_CHECK.title} » vous attend"
        if outcome == "notify_failed":
            error = rng.choice(SEND_ERRORS)
            failed = t + 150 + rng.randint(0, 60)
            self.email(step, "notification", subject, "sending", t)
            self.step_row(step, "failed", failed, error, attempts=5)
            label = SPACE_CHECK.step_by_name["notify_mandataire"].label
            return t, self.stuck(SPACE_CHECK.step_failed, failed, step=label, error=error)
        self.email(step, "notification", subject, "sent", t + 3)
        self.step_row(step, "done", t + 3)
        end = self.now if outcome == "to_check" else mark
        for n, after in enumerate((7, 14), 1):
            if (at := t + after * DAY) < end:
                self.fire(at, f"system minuteur reminder_{n}", "remind", "to_check")
                reminder = self.step("notify_mandataire", at)
                self.email(reminder, "notification", subject, "sent", at + 2)
                self.step_row(reminder, "done", at + 2)
        if outcome == "to_check":
            self._timers(("reminder_1", 7), ("reminder_2", 14), since=t)
            return t, None
        if outcome == "confirmed":
            self.fire(mark, self.person, "confirm", "confirmed")
            self.step_row(self.step("render_space_summary", mark), "done", mark + 2)
            return mark, None
        if outcome == "cancelled":
            staff = self._staff(self.world.agents[self.ad_id][1])
            self.fire(mark, staff, "cancel", "cancelled", comment="Doublon.")
            return mark, None
        message = rng.choice(PROBLEMS)
        self.fire(mark, self.person, "report_problem", "problem_reported", {"message": message})
        rule = SPACE_CHECK.state_by_name["problem_reported"].task
        assert rule is not None
        self.event(mark, "system moteur", "task", comment=f"Tâche ouverte : {rule.title}")
        due = mark + int(rule.due.total_seconds())
        overdue = due + rng.randint(1, 5) if outcome == "overdue" else None
        self._row(
            "tasks",
            self.case_id,
            self.ad_id,
            rule.kind,
            rule.title,
            self.state,
            "open",
            _ts(due),
            None,
            _ts(mark),
            "system moteur",
            overdue and _ts(overdue),
            message,
        )
        if overdue is None:
            return mark, None
        due_fr = date_fr(datetime.fromtimestamp(due, UTC))
        return mark, self.stuck(SPACE_CHECK.task_overdue, overdue, task=rule.title, due=due_fr)

    # The rows around it -------------------------------------------------------------------

    def fire(
        self,
        at: int,
        actor: str,
        trigger: str,
        dst: str,
        payload: dict[str, Any] | None = None,
        comment: str | None = None,
    ) -> None:
        """A transition from the current state, as ``engine.fire`` records it."""
        src, self.state = self.state, dst
        self.version += 1
        self.event(at, actor, "transition", payload, comment, trigger=trigger, src=src)

    def event(
        self,
        at: int,
        actor: str,
        kind: str,
        payload: dict[str, Any] | None = None,
        comment: str | None = None,
        *,
        trigger: str | None = None,
        src: str | None = None,
    ) -> None:
        """A line of the history; ``to_state`` is the current state (none for the rest)."""
        if kind == "assign":
            self.version += 1
        self.updated = max(self.updated, at)
        self.ids["case_events"] += 1
        data = _text(json.dumps(payload, ensure_ascii=False)) if payload else "{}"
        dst = self.state if kind in ("created", "transition", "stuck") else N
        self.lines["case_events"].append(
            f"{self.ids['case_events']}\t{self.case_id}\t{_ts(at)}\t{actor}\t{kind}\t"
            f"{trigger or N}\t{src or N}\t{dst or N}\t{data}\t{_text(comment)}\n"
        )

    def stuck(self, rule: Any, at: int, **details: str) -> tuple[str, str, str, int]:
        """Mark the case stuck as ``engine.mark_stuck`` does: its columns, and an event."""
        message = rule.message.format(**details)
        payload = {"reason": rule.reason}
        self.event(at, "system moteur", "stuck", payload, message, src=self.state)
        return rule.reason, _text(message), rule.action, at

    def step(self, name: str, at: int) -> tuple[int, str, str, int, str]:
        """A step queued at ``at`` in the current state; :meth:`step_row` writes it."""
        self.ids["steps"] += 1
        step_id = self.ids["steps"]
        # Sequential keys (production: uuid4 hex): same length, cheaper to index.
        return step_id, name, f"{self.process}.{name}.{step_id:032x}", at, self.state

    def step_row(
        self,
        step: tuple[int, str, str, int, str],
        status: str,
        at: int,
        error: str | None = None,
        *,
        attempts: int = 1,
    ) -> None:
        step_id, name, key, queued, state = step
        pending = status == "pending"
        lease, finished = (_ts(queued + 300), N) if pending else (N, _ts(at))
        failure = f"{error}\t{_text(TRACEBACK.format(error=error))}" if error else f"{N}\t{N}"
        result = '{"email_status": "sent"}' if status == "done" else "{}"
        self.lines["steps"].append(
            f'{step_id}\t{self.case_id}\t{name}\t{{"state": "{state}"}}\t{status}\t'
            f"{0 if pending else attempts}\t5\t{key}\t{_ts(queued)}\t{lease}\t{failure}\t"
            f"{result}\t{_ts(queued)}\t{_ts(at)}\t{finished}\n"
        )

    def email(
        self,
        step: tuple[int, str, str, int, str],
        kind: str,
        subject: str,
        status: str,
        at: int,
        error: str | None = None,
    ) -> None:
        w, coop_id = self.world, self.coop_id
        hello = f"Bonjour {w.first[coop_id]} {w.last[coop_id]},"
        link = f"http://coopflow.bench/lien/{step[0]:x}"
        self.ids["emails"] += 1
        email_id = self.ids["emails"]
        sent = _ts(at) if status in ("sent", "refused") else N
        self.lines["emails"].append(
            f"{email_id}\t{step[2]}\t{kind}\t{self.case_id}\t{coop_id}\t{w.email[coop_id]}\t"
            f"{subject}\t{hello}\\n\\n{subject} : {link}\\n\t"
            f'<p>{hello}</p><p><a href="{link}">{subject}</a></p>\t'
            f"<b3.{email_id}@coopflow.occe.coop>\t{status}\t{error or N}\t{_ts(at)}\t{sent}\n"
        )

    def _timers(self, *timers: tuple[str, int], since: int) -> None:
        """The timers still running, due ``days`` after ``since`` (fired ones are history
        no page reads)."""
        for name, days in timers:
            if (due := since + days * DAY) > self.now:
                self._row("timers", self.case_id, name, self.state, _ts(due))

    def _staff(self, staff_id: int) -> str:
        return f"staff:{staff_id} {self.world.staff_name[staff_id]}"


def _drop_indexes(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """Drop the seeded tables' secondary indexes (not those of a primary key or unique
    constraint): built once after the load, they cost a fraction of their upkeep row by
    row. Returns each one's table and ``CREATE INDEX`` statement, as the migrations made it."""
    found = conn.execute(
        "SELECT c.relname, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
        " WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        [list(COLUMNS)],
    ).fetchall()
    for _table, name, _sql in found:
        conn.execute(f"DROP INDEX {name}")
    conn.commit()
    return [(table, sql) for table, _name, sql in found]


def _finish(
    connections: list[psycopg.Connection[Any]], indexes: list[tuple[str, str]], rows: dict[str, int]
) -> None:
    """Sequences past the ids; the indexes built again; VACUUM ANALYZE (visibility map,
    hint bits, statistics). The work is shared between two connections, biggest first."""
    first = connections[0]
    first.autocommit = True
    for table in COLUMNS:
        first.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
    work = sorted(indexes, key=lambda job: -rows[job[0]])
    work += sorted(((t, f"VACUUM (ANALYZE) {t}") for t in COLUMNS), key=lambda j: -rows[j[0]])
    lanes: list[list[str]] = [[], []]
    loads = [0, 0]
    for table, sql in work:
        lane = loads.index(min(loads))
        lanes[lane].append(sql)
        loads[lane] += rows[table]
    errors: list[BaseException] = []

    def run(conn: psycopg.Connection[Any], statements: list[str]) -> None:
        try:
            conn.autocommit = True
            conn.execute("SET maintenance_work_mem = '256MB'")
            for sql in statements:
                conn.execute(sql)
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(connections[n + 1], lanes[n])) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


_DAYS: dict[int, str] = {}
_CLOCK = [f" {h:02d}:{m:02d}:{s:02d}+00" for h in range(24) for m in range(60) for s in range(60)]


def _ts(t: int) -> str:
    """An epoch second as a UTC ``timestamptz`` literal (much faster than ``datetime``)."""
    day, rest = divmod(t, DAY)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")
    return date + _CLOCK[rest]


def _text(value: object) -> str:
    """A value in COPY's text format: ``\\N`` for NULL, backslashes, tabs, newlines escaped."""
    if value is None:
        return N
    text = str(value)
    if "\\" in text or "\n" in text or "\t" in text:
        text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
    return text


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
