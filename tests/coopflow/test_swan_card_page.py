"""The sandbox's card page (``/sandbox/swan/card/<id>``) through the app's test client, on
both backends: the card's status and only the moves Swan allows from it, each applied
and its ``Card.Updated`` event handed to the platform, refusals said in French, an
unknown card not found, the way back only to the platform."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from tests.helpers import csrf_token
from tests.web.conftest import text
from workers.providers.swan.interface import CardAddress, CardOrder, NewMember
from workflows.models import WebhookEvent

BACK = "http://coopflow.test/mon-espace/carte"


@pytest.fixture
def card(runtime: Any) -> Any:
    membership = runtime.swan.add_member(
        NewMember(None, "eloise.martin@ac-nice.fr", "Éloïse", "Martin", coop_ref="0060104D")
    )
    return runtime.swan.order_card(
        CardOrder(
            membership.id,
            CardAddress("4 avenue Thiers", "Nice", "06000"),
            "COOP ECOLE THIERS",
            BACK,
        )
    )


def page_url(card_id: str, back: str | None = BACK) -> str:
    query = f"?{urlencode({'redirect': back})}" if back else ""
    return f"/sandbox/swan/card/{card_id}{query}"


def press(client: Any, card_id: str, choice: str) -> Any:
    page = client.get(page_url(card_id)).get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "choice": choice, "redirect": BACK}
    return client.post(page_url(card_id, None), data=form)


def shown(response: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def buttons(response: Any) -> list[str]:
    return re.findall(r'value="(\w+)">[^<]+</button>', text(response))


def test_the_consent_link_opens_the_page_with_the_consent_only(client, card):
    assert card.consent_url.startswith("http://coopflow.test/sandbox/swan/card/" + card.id)
    response = client.get(page_url(card.id))
    assert response.status_code == 200
    assert "Carte physique : Accord du titulaire attendu" in shown(response)
    assert buttons(response) == ["consent", "cancel"]
    assert "<script" not in text(response)
    back = re.search(r'id="retour" href="([^"]*)"', text(response)).group(1)
    assert back == BACK


def test_consent_ship_and_activate_each_tell_the_platform(client, runtime, card):
    for choice, label in (
        ("consent", "En fabrication"),
        ("ship", "Envoyée, à activer"),
        ("activate", "Activée"),
    ):
        response = press(client, card.id, choice)
        assert response.status_code == 302
        page = shown(client.get(response.headers["Location"]))
        assert f"Carte physique : {label}" in page and "Swan a prévenu la plateforme" in page
    assert runtime.swan.card(card.id).physical_status == "Activated"
    with runtime.db.read() as session:
        events = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
    assert [e.event_type for e in events] == ["Card.Updated"] * 3
    assert {e.payload["resourceId"] for e in events} == {card.id}


def test_a_move_swan_would_refuse_is_said_and_changes_nothing(client, runtime, card):
    response = press(client, card.id, "activate")
    assert response.status_code == 409
    assert "ne passe pas à « Activated »" in shown(response)
    assert runtime.swan.card(card.id).physical_status == "ConsentPending"


def test_an_unknown_card_is_not_found(client):
    assert client.get(page_url("sbx_card_inconnue")).status_code == 404
