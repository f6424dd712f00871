"""« Tableau de bord »: the funnel, the stuck reasons and the oldest waiting, per scope."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from admin.dashboard import funnel_order, happy_path
from tests.admin.conftest import log_in, text
from tests.definitions import make_definition
from workflows.engine.definition import Transition
from workflows.formatting import datetime_fr
from workflows.models import Case, Task
from workflows.processes.invitation.definition import DEFINITION as INVITATION

URL = "/admin/tableau-de-bord/"
#: The invitation's funnel as staff read it: the happy path, then the ways off it.
FUNNEL = [
    "Importée, invitation non envoyée",
    "Envoi de l'invitation en cours",
    "Invitation envoyée, en attente du mot de passe",
    "Mot de passe configuré, première connexion attendue",
    "Compte actif",
    "Lien expiré",
    "Adresse refusée par le serveur de messagerie",
    "Annulée",
]


def _table(html: str, table_id: str) -> str | None:
    found = re.search(rf'<table[^>]*id="{re.escape(table_id)}".*?</table>', html, re.S)
    return found.group(0) if found else None


def _bars(html: str, table_id: str) -> list[tuple[str, int, str | None]]:
    """The chart's rows as a reader sees them: label, figure, where the bar leads."""
    table = _table(html, table_id)
    assert table is not None, f"no chart {table_id}"
    rows = []
    for head, value in re.findall(
        r'<th scope="row">(.*?)</th>\s*<td class="bar-value">(.*?)</td>', table, re.S
    ):
        link = re.search(r'href="([^"]*)"', head)
        label = " ".join(re.sub(r"<[^>]+>", " ", head).split())
        rows.append((label, int(value.replace("\u202f", "")), link.group(1) if link else None))
    return rows


def _figures(html: str, table_id: str) -> dict[str, int]:
    return {label: n for label, n, _ in _bars(html, table_id)}


def test_the_funnel_follows_the_happy_path_then_the_ways_off_it():
    assert happy_path(INVITATION) == ["created", "sending", "invited", "password_set", "active"]
    assert funnel_order(INVITATION)[5:] == ["expired", "bounced", "cancelled"]
    # Generic: a later process gets its own funnel from its definition.
    other = make_definition(
        "demo_funnel",
        "Démo",
        [("a", "A"), ("z", "Z"), ("b", "B"), ("c", "C")],
        [
            Transition("skip", "a", "z", "Raccourci"),
            Transition("go", "a", "b", "Aller"),
            Transition("on", "b", "c", "Continuer"),
            Transition("back", "c", "a", "Revenir"),
            Transition("end", "c", "z", "Finir"),
        ],
        final=("z",),
    )
    assert funnel_order(other) == ["a", "b", "c", "z"]


def test_figures_per_state_for_ad_staff(client, staff06, make_case):
    for state in ("created", "expired", "expired", "bounced", "failed"):
        make_case(state)
    log_in(client, staff06)
    page = client.get(URL)
    assert page.status_code == 200
    html = text(page)

    funnel = _bars(html, "funnel-invitation-AD06")
    assert [label for label, _, _ in funnel] == FUNNEL
    assert _figures(html, "funnel-invitation-AD06") == {
        "Importée, invitation non envoyée": 1,
        "Envoi de l'invitation en cours": 1,  # its send step failed
        "Invitation envoyée, en attente du mot de passe": 0,
        "Mot de passe configuré, première connexion attendue": 0,
        "Compte actif": 0,
        "Lien expiré": 2,
        "Adresse refusée par le serveur de messagerie": 1,
        "Annulée": 0,
    }
    assert _figures(html, "stuck-AD06") == {
        "Invitation expirée": 2,
        "Adresse email refusée": 1,
        "Étape en échec": 1,
    }
    assert "5 dossiers, 4 bloqués" in html


def test_stuck_bars_lead_to_the_stuck_list_of_their_reason(client, staff06, national, make_case):
    expired = make_case("expired")
    bounced = make_case("bounced")
    log_in(client, staff06)
    html = text(client.get(URL))
    links = {label: url for label, _, url in _bars(html, "stuck-AD06")}
    target = urlsplit(links["Invitation expirée"])
    assert target.path == "/admin/dossiers/"
    assert parse_qs(target.query) == {
        "bloques": ["1"],
        "motif": ["invitation_expired"],
        "ad": ["AD06"],
    }
    assert parse_qs(urlsplit(links["Adresse email refusée"]).query)["motif"] == [
        "invitation_bounced"
    ]
    listed = client.get(links["Invitation expirée"])
    assert listed.status_code == 200
    assert f'href="/admin/dossiers/{expired.id}"' in text(listed)
    assert f'href="/admin/dossiers/{bounced.id}"' not in text(listed)
    # The funnel's bars lead to the list of cases in that state.
    funnel = {label: url for label, _, url in _bars(html, "funnel-invitation-AD06")}
    assert parse_qs(urlsplit(funnel["Lien expiré"]).query)["etat"] == ["invitation.expired"]

    log_in(client, national)
    total = text(client.get(URL))
    link = {label: url for label, _, url in _bars(total, "stuck-total")}["Invitation expirée"]
    assert parse_qs(urlsplit(link).query) == {"bloques": ["1"], "motif": ["invitation_expired"]}


def test_ad_staff_see_nothing_of_another_ad(client, staff06, ad50, make_case):
    mine = make_case("expired")
    theirs = [make_case("expired", of=ad50), make_case("bounced", of=ad50)]
    log_in(client, staff06)
    html = text(client.get(URL))
    assert _figures(html, "funnel-invitation-AD06")["Lien expiré"] == 1
    assert _figures(html, "stuck-AD06") == {"Invitation expirée": 1}
    assert "AD50" not in html
    assert _table(html, "funnel-invitation-total") is None
    assert f'href="/admin/dossiers/{mine.id}"' in html
    for case in theirs:
        assert f'href="/admin/dossiers/{case.id}"' not in html
        assert case.coop.name not in html


def test_national_staff_see_each_ad_and_the_total(client, national, ad, ad50, make_case):
    make_case("expired")
    make_case("created")
    make_case("expired", of=ad50)
    make_case("bounced", of=ad50)
    log_in(client, national)
    html = text(client.get(URL))
    total = _figures(html, "funnel-invitation-total")
    assert total["Lien expiré"] == 2
    assert total["Importée, invitation non envoyée"] == 1
    assert total["Adresse refusée par le serveur de messagerie"] == 1
    assert _figures(html, "funnel-invitation-AD06")["Lien expiré"] == 1
    assert _figures(html, "funnel-invitation-AD50")["Lien expiré"] == 1
    assert _figures(html, "funnel-invitation-AD50")["Importée, invitation non envoyée"] == 0
    assert _figures(html, "stuck-total") == {"Invitation expirée": 2, "Adresse email refusée": 1}
    assert _figures(html, "stuck-AD50") == {"Invitation expirée": 1, "Adresse email refusée": 1}
    assert "Toutes les AD" in html and "AD06 · OCCE 06" in html and "AD50 · OCCE 50" in html


def test_the_oldest_waiting_come_first(client, rt, clock, staff06, ad50, make_case):
    first = make_case("expired")
    clock.advance(timedelta(hours=2))
    second = make_case("bounced")
    clock.advance(timedelta(hours=2))
    make_case("expired", of=ad50)
    with rt.db.write() as session:
        due = clock.now()
        for case, title, late in (
            (second, "Vérifier l'adresse", timedelta(days=3)),
            (first, "Appeler l'école", timedelta(days=-1)),
        ):
            session.add(
                Task(
                    case_id=case.id,
                    ad_id=case.ad_id,
                    kind="review",
                    title=title,
                    due_at=due + late,
                    created_by="test",
                )
            )
        session.add(
            Task(
                case_id=first.id,
                ad_id=first.ad_id,
                kind="review",
                title="Tâche close",
                status="done",
                due_at=due - timedelta(days=9),
                created_by="test",
            )
        )
    log_in(client, staff06)
    html = text(client.get(URL))

    stuck = _table(html, "oldest-stuck")
    assert stuck is not None
    assert re.findall(r'href="/admin/dossiers/(\d+)"', stuck) == [str(first.id), str(second.id)]
    assert "Invitation expirée" in stuck and "Adresse email refusée" in stuck
    with rt.db.read() as session:
        since = session.scalar(select(Case.stuck_since).where(Case.id == first.id))
    # Paris time: the tests start at 07:30 UTC on 7 September, 09:30 in Paris.
    assert datetime_fr(since).startswith("07/09/2026 à 09:3")
    assert datetime_fr(since) in stuck and first.coop.name in stuck and "AD06" in stuck

    tasks = _table(html, "oldest-tasks")
    assert tasks is not None
    assert re.findall(r">([^<]+)</a>", tasks) == ["Appeler l'école", "Vérifier l'adresse"]
    assert "Tâche close" not in tasks
    assert tasks.count("en retard") == 1


def test_the_read_only_account_sees_the_page(client, readonly06, make_case):
    make_case("expired")
    log_in(client, readonly06)
    page = client.get(URL)
    assert page.status_code == 200
    assert _figures(text(page), "stuck-AD06") == {"Invitation expirée": 1}


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/connexion?next=/admin/tableau-de-bord")


def test_the_dashboard_is_in_the_menu(client, staff06):
    log_in(client, staff06)
    html = text(client.get("/admin/"))
    assert f'href="{URL}"' in html and "Tableau de bord" in html


def test_the_charts_need_nothing_from_outside(client, national, make_case):
    make_case("expired")
    log_in(client, national)
    html = text(client.get(URL))
    charts = re.findall(r'<table[^>]*class="[^"]*bar-chart.*?</table>', html, re.S)
    assert charts
    for chart in charts:
        assert "http" not in chart and "<script" not in chart
        assert '<svg class="bar"' in chart and 'aria-hidden="true"' in chart
