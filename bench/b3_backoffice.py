"""B3: the back-office at scale. A database of 500,000 cases, 50,000 of them stuck,
seeded with COPY (:mod:`bench.seed_cases`), served by gunicorn as the Procfile runs it
(2 workers × 4 threads) on PostgreSQL.

A staff member's browser on loopback, one persistent HTTP connection, asks each page
again and again; the time of a request runs from sending it to the last byte of the
answer read. Pages: the stuck list (first page, and pages about fifty « Page suivante »
deep), filtered lists, searches (an email, words of a name, the same words typed without
their accents), case pages, the dashboard and the process pages, as national staff (every
AD: the longest lists, the largest counts); the stuck list, the dashboard and the process
pages also as an AD's staff. Every answer must be a 200 with what the page shows.
Target: p95 ≤ 150 ms for each page.
"""

from __future__ import annotations

import html
import http.client
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import quote, urlencode

from bench.report import Figure, Report
from bench.seed_cases import AD06_EMAIL, NATIONAL_EMAIL, PASSWORD, Seeded, seed_cases
from bench.services import (
    BIN,
    Processes,
    environment,
    flush_redis,
    free_port,
    postgres_database,
    wait_until,
)
from workflows.search import fold

NAME = "B3"
TARGET_MS = 150.0
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_NEXT = re.compile(r'<a [^>]*href="([^"]+)">Page suivante')
#: One per line of a case list.
_ROW = 'data-case-id="'
#: « Processus »: the diagram of each process with its cases counted on every state
#: (drawn once per set of counts: the seeded counts do not move, a live one would redraw,
#: 20 to 40 ms of ``dot``).
PROCESS_PAGES = ["/admin/processus/invitation", "/admin/processus/space_check"]


@dataclass(frozen=True)
class Size:
    coops: int
    cases: int
    stuck: int
    #: Timed requests per page, after ``warmup`` untimed ones.
    requests: int
    warmup: int
    #: The first of the ten deep pages of the stuck list.
    deep: int


FULL = Size(coops=100_000, cases=500_000, stuck=50_000, requests=200, warmup=20, deep=50)
QUICK = Size(coops=4_000, cases=20_000, stuck=2_000, requests=30, warmup=5, deep=25)


def run(report: Report, *, quick: bool = False) -> None:
    size = QUICK if quick else FULL
    with (
        postgres_database("b3") as url,
        TemporaryDirectory() as tmp,
        Processes(Path(tmp)) as processes,
    ):
        seeded = seed_cases(
            url, coops=size.coops, cases=size.cases, stuck=size.stuck, seed=report.seed
        )
        report.add(
            Figure(
                NAME,
                f"amorçage, {size.cases:_} dossiers dont {size.stuck:_} bloqués".replace("_", " "),
                seeded.seconds,
                "s",
                notes=f"{sum(seeded.rows.values()) / 1e6:.1f} M lignes, COPY",
            )
        )
        port = free_port()
        web = processes.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "coopflow.app:create_app()",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
            environment(url, flush_redis()),
        )
        wait_until(lambda: _healthy(port, web, Path(tmp)), 60, "gunicorn répond sur /healthz")
        national = Browser(port)
        national.log_in(NATIONAL_EMAIL)
        for label, paths, check in _national_pages(national, seeded, size):
            _report(report, label, _measure(national, paths, check, size))
        team = Browser(port)
        team.log_in(AD06_EMAIL)
        for label, paths, check in _team_pages():
            _report(report, label, _measure(team, paths, check, size))
    flush_redis()


# The pages ---------------------------------------------------------------------------

Check = Callable[[str], str | None]
Page = tuple[str, list[str], Check]


def _national_pages(browser: Browser, seeded: Seeded, size: Size) -> list[Page]:
    ads = seeded.ad_codes
    reasons = ("invitation_expired", "invitation_bounced", "step_failed", "task_overdue")
    last = size.deep + 9
    return [
        ("Cas bloqués, 1re page", ["/admin/"], _list("Cas bloqués", exactly=50)),
        (
            f"Cas bloqués, pages {size.deep} à {last}",
            _deep_pages(browser, "/admin/", size.deep, last),
            _list("Cas bloqués", exactly=50, also="« Première page"),
        ),
        (
            "Dossiers filtrés (état, AD)",
            [f"/admin/dossiers/?etat=invitation.expired&ad={ad}" for ad in ads],
            _list("Dossiers", at_least=1),
        ),
        (
            "Cas bloqués filtrés (motif, AD)",
            [f"/admin/?motif={reason}&ad={ad}" for ad in ads for reason in reasons],
            _list("Cas bloqués", at_least=1),
        ),
        (
            "Recherche d'un email de mandataire",
            [f"/admin/dossiers/?q={quote(term)}" for term in seeded.search_terms if "@" in term],
            _list("Dossiers", at_least=1),
        ),
        (
            "Recherche de mots du nom d'une coopérative",
            [f"/admin/dossiers/?q={quote(t)}" for t in seeded.search_terms if "@" not in t],
            _list("Dossiers", at_least=1),
        ),
        (
            "Recherche de mots d'un nom tapés sans accents",
            [f"/admin/dossiers/?q={quote(t)}" for t in _without_accents(seeded.search_terms)],
            _list("Dossiers", at_least=1),
        ),
        (
            "Page d'un dossier bloqué",
            [f"/admin/dossiers/{case_id}" for case_id in seeded.stuck_case_ids[:200]],
            _contains("Historique", "Dossier bloqué depuis", "Action recommandée"),
        ),
        (
            "Tableau de bord",
            ["/admin/tableau-de-bord/"],
            _contains("Tableau de bord", "Dossiers bloqués par motif", "AD75"),
        ),
        ("Page d'un processus, dossiers par état", PROCESS_PAGES, _contains("Dossiers par état")),
    ]


def _team_pages() -> list[Page]:
    return [
        ("Cas bloqués, 1re page (équipe AD06)", ["/admin/"], _list("Cas bloqués", exactly=50)),
        (
            "Tableau de bord (équipe AD06)",
            ["/admin/tableau-de-bord/"],
            _contains("Tableau de bord", "Dossiers bloqués par motif", "AD06"),
        ),
        (
            "Page d'un processus, dossiers par état (équipe AD06)",
            PROCESS_PAGES,
            _contains("Dossiers par état"),
        ),
    ]


def _without_accents(terms: list[str]) -> list[str]:
    """The words of coop names that have accents (« Exupéry Mérignac »), typed without
    them (« Exupery Merignac »), as staff often do: the search must find them all."""
    return [folded for t in terms if "@" not in t and (folded := fold(t) or "") != t.lower()]


def _deep_pages(browser: Browser, first: str, deep: int, last: int) -> list[str]:
    """The addresses of pages ``deep`` to ``last`` of a list, following « Page suivante »
    from its first page as a staff member would."""
    path, out = first, []
    for page in range(1, last):
        status, body, _ = browser.request("GET", path)
        found = _NEXT.search(body.decode())
        if status != 200 or found is None:
            raise AssertionError(f"B3 : pas de page {page + 1} après {path} ({status})")
        path = html.unescape(found.group(1))
        if page + 1 >= deep:
            out.append(path)
    return out


def _readable(page: str) -> str:
    """The page's text as the checks compare it: entities decoded, the no-break spaces of
    French typography (« Première page », 12 500) as plain spaces."""
    return html.unescape(page).replace("\u00a0", " ").replace("\u202f", " ")


def _list(heading: str, *, exactly: int = 0, at_least: int = 0, also: str = "") -> Check:
    def check(page: str) -> str | None:
        page = _readable(page)
        # The page's heading, whatever its level (h1 since the back-office's titles).
        titled = re.search(rf">\s*{re.escape(heading)}\s*</h[1-6]>", page)
        if not titled or (also and also not in page):
            return f"« {heading} » {also} absent"
        rows = page.count(_ROW)
        if (exactly and rows != exactly) or rows < at_least:
            return f"{rows} lignes"
        return None

    return check


def _contains(*texts: str) -> Check:
    def check(page: str) -> str | None:
        missing = [t for t in texts if t not in _readable(page)]
        return f"absent : {', '.join(missing)}" if missing else None

    return check


# Measuring -------------------------------------------------------------------------------


def _measure(browser: Browser, paths: list[str], check: Check, size: Size) -> list[float]:
    """Milliseconds of ``size.requests`` requests, cycling through ``paths``, after
    ``size.warmup`` untimed ones; every answer checked."""
    timings = []
    for n in range(size.warmup + size.requests):
        path = paths[n % len(paths)]
        started = time.perf_counter()
        status, body, _ = browser.request("GET", path)
        elapsed = time.perf_counter() - started
        problem = f"statut {status}" if status != 200 else check(body.decode())
        if problem:
            raise AssertionError(f"B3 : {path} : {problem}")
        if n >= size.warmup:
            timings.append(elapsed * 1000)
    return timings


def _report(report: Report, label: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[int(len(ordered) * 0.95)]
    notes = f"{len(ordered)} requêtes, max {ordered[-1]:.0f} ms"
    report.add(Figure(NAME, f"{label}, médiane", statistics.median(ordered), "ms"))
    report.add(Figure(NAME, f"{label}, p95", p95, "ms", ("<=", TARGET_MS), notes=notes))


class Browser:
    """A staff member's browser: one persistent HTTP/1.1 connection and its cookies."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, bytes, str | None]:
        """(status, body, ``Location``); an idle connection the server closed is reopened."""
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value
        return response.status, data, response.getheader("Location")

    def log_in(self, email: str) -> None:
        """The staff login form, CSRF token included, as a person fills it in."""
        status, body, _ = self.request("GET", "/admin/connexion")
        token = _CSRF.search(body.decode())
        if status != 200 or token is None:
            raise AssertionError(f"B3 : page de connexion illisible ({status})")
        form = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
        status, _, location = self.request("POST", "/admin/connexion", form)
        if status != 302 or not (location or "").endswith("/admin/"):
            raise AssertionError(f"B3 : connexion de {email} refusée ({status})")


def _healthy(port: int, web: subprocess.Popen[bytes], logdir: Path) -> bool:
    if web.poll() is not None:
        logs = "\n".join(p.read_text()[-2000:] for p in sorted(logdir.glob("*.log")))
        raise RuntimeError(f"B3 : gunicorn s'est arrêté ({web.returncode}) :\n{logs}")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
