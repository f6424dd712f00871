"""The sandbox's identification page (``/sandbox/swan/identification/<id>``) through the
app's test client, on both backends: who is verified, one button per move, each move
applied and its webhook events handed to the platform, never framed, no script, and
absent outside the sandbox mode."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from coopflow.app import create_app
from coopflow.runtime import build_runtime
from tests.helpers import csrf_token
from tests.security.conftest import database_rows
from tests.web.conftest import case_row, make_coop, settle, text
from workers.providers.swan.interface import IdentificationStatus, MembershipStatus, NewMember
from workflows.models import Case, WebhookEvent
from workflows.processes.kyc import definition as kyc

__all__ = ["make_coop"]  # the fixture: a coop brought to a stage by the engine

BUTTONS = [
    "Commencer",
    "Envoyer mes pièces",
    "Identité validée",
    "Refuser : pièce expirée",
    "Refuser : document illisible",
    "Refuser : identité différente",
    "Expirée",
    "Identité différente de la fiche (nom)",
]
BACK = "http://coopflow.test/mon-espace/identite"


@pytest.fixture
def membership(runtime: Any) -> Any:
    return runtime.swan.add_member(
        NewMember(
            None,
            "eloise.martin@ac-nice.fr",
            "Éloïse",
            "Martin",
            birth_date=date(1988, 5, 2),
            coop_ref="0060104D",
        )
    )


def page_url(membership_id: str, back: str | None = BACK) -> str:
    query = f"?{urlencode({'redirect': back})}" if back else ""
    return f"/sandbox/swan/identification/{membership_id}{query}"


def press(client: Any, membership_id: str, choice: str, back: str = BACK) -> Any:
    """Open the page, then press the button ``choice`` with the form's own token."""
    page = client.get(page_url(membership_id, back)).get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "choice": choice}
    form["redirect"] = re.search(r'name="redirect" value="([^"]*)"', page).group(1)
    return client.post(page_url(membership_id, None), data=form)


def shown(response: Any) -> str:
    """The page's words as read, tags left out."""
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def return_link(page: str) -> str:
    return re.search(r'id="retour" href="([^"]*)"', page).group(1).replace("&amp;", "&")


def test_the_page_shows_who_is_verified_and_every_move(client, membership):
    response = client.get(page_url(membership.id))
    assert response.status_code == 200
    page = text(response)
    assert "Swan — environnement de démonstration" in page
    assert "Éloïse Martin" in page and "eloise.martin@ac-nice.fr" in page
    assert "02/05/1988" in page and "Aucune vérification commencée" in page
    for label in BUTTONS:
        assert f">{label}</button>" in page
    assert return_link(response.get_data(as_text=True)) == BACK
    # Like Swan's page: never inside a frame; and no script at all (works without one).
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "<script" not in page


def test_a_journey_started_sent_then_validated(client, runtime, membership, clock):
    response = press(client, membership.id, "started")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(page_url(membership.id))
    page = shown(client.get(response.headers["Location"]))
    assert "C'est fait : « Commencer ». Swan a prévenu la plateforme." in page
    assert "Dernière vérification : Commencée" in page
    clock.advance(timedelta(minutes=5))
    press(client, membership.id, "pending")
    assert "Pièces envoyées, examen en cours" in shown(client.get(page_url(membership.id)))
    press(client, membership.id, "valid")
    now = runtime.swan.membership(membership.id)
    assert now.status == MembershipStatus.ENABLED
    assert [i.status for i in now.identifications] == [IdentificationStatus.VALID]
    page = client.get(page_url(membership.id)).get_data(as_text=True)
    assert "Active : identité vérifiée" in shown(client.get(page_url(membership.id)))
    assert return_link(page) == BACK


def test_each_event_reaches_the_platform_once(client, runtime, membership):
    press(client, membership.id, "unreadable")  # begun, then refused: two events
    with runtime.db.read() as session:
        events = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
    assert [e.source for e in events] == ["swan", "swan"]
    assert {e.payload["resourceId"] for e in events} == {membership.id}
    assert len({e.event_id for e in events}) == 2
    # Not a membership of any case here: kept, and said why it changed nothing.
    assert {e.outcome for e in events} == {"ignored"}
    (refused,) = runtime.swan.membership(membership.id).identifications
    assert refused.reasons == ("InsufficientDocumentReadability",)


def test_the_mandataires_kyc_case_follows_what_happens_on_the_page(client, runtime, make_coop):
    """The whole way: the kyc step asks Swan for the membership and notes the page; each
    press there reaches the case through its webhook events and the sync step."""
    coop = make_coop("active")
    with runtime.db.read() as session:
        case = session.scalars(
            select(Case).where(Case.coop_id == coop.coop_id, Case.process == kyc.PROCESS)
        ).one()
    assert case.state == kyc.LINK_SENT
    url = case.data["identification_url"]
    assert url.startswith("http://coopflow.test/sandbox/swan/identification/sbx_mem_")
    path = url.removeprefix("http://coopflow.test")
    assert coop.email in text(client.get(path))
    for choice, state in (
        ("started", kyc.IN_PROGRESS),
        ("pending", kyc.PENDING_REVIEW),
        ("valid", kyc.VERIFIED),
    ):
        page = client.get(path).get_data(as_text=True)
        back = re.search(r'name="redirect" value="([^"]*)"', page).group(1)
        form = {"csrf_token": csrf_token(page), "choice": choice, "redirect": back}
        assert client.post(path.split("?")[0], data=form).status_code == 302
        settle(runtime)
        assert case_row(runtime, case.id).state == state, choice
    assert case_row(runtime, case.id).data["membership_status"] == "Enabled"


def test_a_refusal_and_a_mismatch_read_in_french(client, runtime, membership):
    press(client, membership.id, "expired_document")
    page = shown(client.get(page_url(membership.id)))
    assert "Dernière vérification : Refusée" in page
    assert "Motif : La pièce d'identité présentée est expirée." in page
    press(client, membership.id, "name_mismatch")
    page = shown(client.get(page_url(membership.id)))
    assert "Adhésion au compte : Identité différente de la fiche" in page
    assert "Différent de la fiche : le nom." in page
    assert runtime.swan.membership(membership.id).mismatches == ("lastNameMatchError",)


def test_a_move_swan_would_refuse_is_said_and_changes_nothing(client, runtime, membership):
    before = database_rows(runtime)
    response = press(client, membership.id, "expired")  # nothing begun yet
    assert response.status_code == 409
    assert "aucune vérification en cours" in text(response)
    response = press(client, membership.id, "approve_everything")
    assert response.status_code == 422 and "Choisissez l'un des boutons" in text(response)
    assert database_rows(runtime) == before


def test_without_the_forms_token_nothing_happens(client, runtime, membership):
    client.get(page_url(membership.id))
    before = database_rows(runtime)
    response = client.post(
        page_url(membership.id, None),
        data={"choice": "valid"},
        headers={"Referer": f"http://localhost{page_url(membership.id)}"},  # as browsers do
    )
    assert response.status_code == 302
    back = client.get(response.headers["Location"])  # the same page, and why
    assert "Ce formulaire avait expiré" in text(back) and "Éloïse Martin" in text(back)
    assert database_rows(runtime) == before


def test_an_unknown_membership_is_not_found(client):
    unknown = page_url("sbx_mem_0000000000000000")
    response = client.get(unknown)
    assert response.status_code == 404 and "Cette page n'existe pas." in text(response)
    form = {"csrf_token": csrf_token(client.get("/connexion").get_data(as_text=True))}
    assert client.post(unknown, data={**form, "choice": "valid"}).status_code == 404


@pytest.mark.parametrize(
    "back",
    ["https://ailleurs.example/mon-espace", "//ailleurs.example/x", "/\\ailleurs.example"],
)
def test_the_way_back_never_leaves_the_platform(client, membership, back):
    page = client.get(page_url(membership.id, back)).get_data(as_text=True)
    assert return_link(page) == "/mon-espace"
    local = client.get(page_url(membership.id, "/mon-espace/identite")).get_data(as_text=True)
    assert return_link(local) == "/mon-espace/identite"


def test_outside_the_sandbox_mode_there_is_no_such_page(settings, clock):
    runtime = build_runtime(settings.with_overrides(swan_mode="manual"), clock=clock)
    try:
        app = create_app(runtime=runtime)
        assert not [r for r in app.url_map.iter_rules() if r.rule.startswith("/sandbox")]
        assert app.test_client().get(page_url("sbx_mem_0000000000000000")).status_code == 404
    finally:
        runtime.stop()
