"""« Processus »: a page per definition, the cases of the staff member's scope counted on
each state of its diagram, each state a link to the case list filtered on it."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

from tests.admin.conftest import log_in, text


def _ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-case-id="(\d+)"', page)]


def _diagram(page: str) -> ET.Element:
    found = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert found, "no diagram on the page"
    return ET.fromstring(found.group(0))


def _states(root: ET.Element) -> dict[str, tuple[str, str]]:
    """State name → (the link's address, what the state says), from the diagram itself."""
    out = {}
    for g in root.iter("g"):
        marker = "invitation-state-"
        if marker not in g.get("id", "") or "state" not in g.get("class", "").split():
            continue
        link = next(g.iter("a"))
        words = " ".join(" ".join(t.text or "" for t in g.iter("text")).split())
        out[g.get("id", "").split(marker, 1)[1]] = (html.unescape(link.get("href", "")), words)
    return out


def test_each_state_shows_its_cases_in_scope_and_leads_to_them(client, staff06, make_case, ad50):
    expired = [make_case("expired"), make_case("expired")]
    created = make_case("created")
    failed = make_case("failed")  # stuck in « sending »: its send step failed for good
    make_case("expired", of=ad50)  # another AD's: never counted for AD06's staff
    log_in(client, staff06)

    page = client.get("/admin/processus/invitation")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    states = _states(_diagram(body))
    assert states["expired"] == (
        "/admin/dossiers/?etat=invitation.expired",
        "Lien expiré 2 dossiers",
    )
    assert states["created"][1].endswith("1 dossier")
    assert states["sending"][1].endswith("1 dossier dont 1 bloqué")
    assert states["active"][1].endswith("aucun dossier")
    # The link goes to exactly those cases.
    assert sorted(_ids(text(client.get(states["expired"][0])))) == sorted(c.id for c in expired)
    assert _ids(text(client.get(states["created"][0]))) == [created.id]
    # The table below says the same, with the stuck ones in the « Cas bloqués » list.
    words = " ".join(re.sub(r"<[^>]+>", "", text(page)).split())
    assert "4 dossiers de votre AD, dont 3 bloqués." in words  # two expired, one failed
    stuck_link = html.unescape(
        re.search(r'<a href="(/admin/\?etat=invitation\.sending)">1</a>', body).group(1)
    )
    assert _ids(text(client.get(stuck_link))) == [failed.id]


def test_national_staff_count_every_ad_or_one(client, national, make_case, ad50):
    make_case("expired")
    mine = make_case("expired", of=ad50)
    log_in(client, national)
    everything = _states(_diagram(client.get("/admin/processus/invitation").get_data(as_text=True)))
    assert everything["expired"][1] == "Lien expiré 2 dossiers"
    page = client.get("/admin/processus/invitation?ad=AD50").get_data(as_text=True)
    one = _states(_diagram(page))
    assert one["expired"] == (
        "/admin/dossiers/?etat=invitation.expired&ad=AD50",
        "Lien expiré 1 dossier",
    )
    assert _ids(text(client.get(one["expired"][0]))) == [mine.id]


def test_an_ad_staff_member_cannot_widen_the_scope(client, staff06, make_case, ad50):
    make_case("expired", of=ad50)
    log_in(client, staff06)
    page = client.get("/admin/processus/invitation?ad=AD50").get_data(as_text=True)
    assert _states(_diagram(page))["expired"][1] == "Lien expiré aucun dossier"


def test_every_process_has_its_page_from_the_menu(client, rt, staff06, make_case):
    make_case("expired")
    log_in(client, staff06)
    home = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/processus/"' in home  # the back-office menu
    listing = text(client.get("/admin/processus/"))
    for name, definition in rt.engine.definitions.items():
        assert f'href="/admin/processus/{name}"' in client.get("/admin/processus/").get_data(
            as_text=True
        )
        assert definition.title in listing
        assert client.get(f"/admin/processus/{name}").status_code == 200
    assert client.get("/admin/processus/no_such_process").status_code == 404
