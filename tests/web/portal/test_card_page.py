"""« Carte bancaire »: why it waits, the request (the school's address prefilled, Swan's
limits said with the count at and past each, another address needing a reason, the
holder's name as Swan prints it, the responsibility box), each refusal in French next to
its field with nothing stored, the request kept once whatever the clicks, then each later
state: the consent link, the tracking number, a card back at the AD, the PIN once
activated, a suspended card, a cancelled order; another coop's mandataire sees none of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from tests.card_helpers import STAFF, card_at, to_order
from tests.helpers import active_account, case_of
from tests.transfer_helpers import SYSTEM
from tests.web.conftest import text
from tests.web.portal.test_transfer_page import error, html_of, log_in, plain, spaced
from tests.web.portal.test_transfer_page import post as post_form
from web.portal.card_form import (
    CITY_REQUIRED,
    LINE1_REQUIRED,
    NOT_RESPONSIBLE,
    POSTAL_CODE_CHARACTERS,
    POSTAL_CODE_REQUIRED,
    REASON_REQUIRED,
    school_lines,
)
from web.portal.card_order import status_now
from workflows.engine.errors import PermanentStepError, TransientStepError
from workflows.models import Case, CaseEvent, Coop, Mandataire
from workflows.processes.card_order.holder import printed_holder

PAGE = "/mon-espace/carte"
PROCESS = "card_order"
#: The factory's school (tests.factories.CoopFactory), as the form is prefilled.
SCHOOL = {"line1": "12 rue de la République", "line2": "", "postal_code": "06000", "city": "Nice"}
GOOD = {**SCHOOL, "reason": "", "printed_line": "COOP ECOLE JULES FERRY", "responsible": "y"}


@pytest.fixture
def quiet(runtime) -> Iterator[None]:
    """The steps the cases queue are not run (the order at Swan is the steps' tests')."""
    publisher, runtime.engine.publisher = runtime.engine.publisher, None
    yield
    runtime.engine.publisher = publisher


@pytest.fixture
def mandataire(runtime, app, client, ad, quiet) -> Mandataire:
    """A mandataire whose coop may order its card (``to_order``), logged in."""
    person, _ = to_order(runtime.engine, ad)
    log_in(runtime, app, client, person)
    return person


def post(client, html: str | None = None, **fields: Any):
    return post_form(client, html, PAGE, **{**GOOD, **fields})


def card(runtime, coop_id: int) -> Case:
    return case_of(runtime.engine, coop_id, PROCESS)


def request_events(runtime, case_id: int) -> list[CaseEvent]:
    with runtime.db.read() as s:
        return list(
            s.scalars(
                select(CaseEvent).where(
                    CaseEvent.case_id == case_id,
                    CaseEvent.trigger.in_(("request", "request_elsewhere")),
                )
            )
        )


def keep(runtime, case: Case, **card_data: Any) -> None:
    """What the sync step keeps of Swan's card (``case.data["card"]``)."""
    with runtime.engine.transaction() as tx:
        locked = tx.lock(case.id)
        locked.data = {**locked.data, "card": {**locked.data.get("card", {}), **card_data}}


def assert_refused(runtime, client, mandataire, field: str, message: str, **fields: Any) -> str:
    before = card(runtime, mandataire.coop_id)
    refused = post(client, **fields)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    said = error(html, field)
    assert said is not None and spaced(message) in said, (said, message)
    assert "Rien n'a été enregistré" in plain(html) and f'href="#{field}"' in html
    after = card(runtime, mandataire.coop_id)
    assert (after.state, after.version) == ("to_order", before.version)
    assert "request" not in after.data
    assert request_events(runtime, after.id) == []
    return html


# --- waiting ---------------------------------------------------------------------------


def test_before_the_prerequisites_the_page_says_what_it_waits_for(runtime, app, client, ad):
    person = active_account(runtime.engine, ad)
    log_in(runtime, app, client, person)
    words = plain(html_of(client, PAGE))
    assert "Disponible quand votre identité sera vérifiée." in words
    assert "Disponible quand le compte bancaire de la coopérative sera certifié." in words
    assert "Commander la carte" not in words
    refused = post(client, html_of(client, PAGE))
    assert refused.status_code == 409
    assert "n'est pas encore ouverte" in text(refused)


# --- the form --------------------------------------------------------------------------


def test_the_form_is_prefilled_with_the_school_and_says_seed_002(runtime, client, mandataire):
    html = html_of(client, PAGE)
    words = plain(html)
    assert "À faire : commandez la carte de la coopérative" in words
    assert "Indiquez bien l'adresse de l'école pour la réception de la carte" in words
    assert 'value="12 rue de la République"' in html.replace("&#39;", "'")
    assert 'value="06000"' in html and 'value="Nice"' in html
    assert "Pays : France" in words
    assert "Nom du titulaire imprimé sur la carte : ELOISE MARTIN" in words
    assert '<label for="responsible">Je suis responsable de la carte de la coopérative</label>' in (
        html
    )
    assert "vous êtes responsable de l'utilisation de la carte bancaire" in words
    assert '<meta http-equiv="refresh"' not in html and "<script" not in html


@pytest.mark.parametrize(
    ("field", "limit"),
    [("line1", 38), ("line2", 38), ("city", 30), ("postal_code", 10), ("printed_line", 26)],
)
def test_each_limit_is_taken_at_it_and_refused_past_it_with_the_count(
    runtime, client, mandataire, field, limit
):
    fill = "1" if field == "postal_code" else "A"
    html = assert_refused(
        runtime,
        client,
        mandataire,
        field,
        f"{limit + 1} caractères : {limit} au plus.",
        **{field: fill * (limit + 1)},
    )
    assert f'value="{fill * (limit + 1)}"' in html  # what was typed, to correct
    # At the limit: taken (not the school's any more but for the printed line).
    reason = "" if field == "printed_line" else "Une autre adresse."
    assert post(client, **{field: fill * limit, "reason": reason}).status_code == 302
    kept = card(runtime, mandataire.coop_id).data["request"]
    value = kept["printed_line"] if field == "printed_line" else kept["address"][field]
    assert value == fill * limit


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"line1": "  "}, "line1", LINE1_REQUIRED),
        ({"postal_code": ""}, "postal_code", POSTAL_CODE_REQUIRED),
        ({"postal_code": "06000!"}, "postal_code", POSTAL_CODE_CHARACTERS),
        ({"city": ""}, "city", CITY_REQUIRED),
        ({"responsible": None}, "responsible", NOT_RESPONSIBLE),
        ({"printed_line": "COOP\nECOLE"}, "printed_line", "caractères qui ne s'impriment pas"),
        ({"line1": "9 rue Droite"}, "reason", REASON_REQUIRED),
        ({"city": "Antibes", "reason": "   "}, "reason", REASON_REQUIRED),
    ],
    ids=[
        "street-missing",
        "postal-code-missing",
        "postal-code-characters",
        "city-missing",
        "not-responsible",
        "printed-line-two-lines",
        "elsewhere-without-reason",
        "elsewhere-blank-reason",
    ],
)
def test_a_refusal_is_said_next_to_its_field_and_nothing_is_stored(
    runtime, client, mandataire, fields, field, message
):
    assert_refused(runtime, client, mandataire, field, message, **fields)


def test_the_printed_line_of_30_characters_says_30_for_26(runtime, client, mandataire):
    html = assert_refused(
        runtime,
        client,
        mandataire,
        "printed_line",
        "30 caractères : 26 au plus.",
        printed_line="COOPERATIVE ECOLE JULES FERRY1",
    )
    assert 'aria-invalid="true"' in html


def test_the_school_order_is_kept_once_and_request_fired(runtime, client, clock, mandataire):
    html = html_of(client, PAGE)
    # The school's address typed otherwise (case, accents, postal code) is the school's.
    typed = {"line1": "12 RUE DE LA REPUBLIQUE", "city": "nice", "postal_code": " 06000 "}
    first = post(client, html, **typed)
    second = post(client, html, **typed)  # a double click: the same rendering, the same values
    assert first.status_code == 302 and first.headers["Location"] == PAGE
    assert second.status_code == 303
    case = card(runtime, mandataire.coop_id)
    assert case.state == "ordering"
    kept = case.data["request"]
    assert kept == {
        "address": {
            "line1": "12 RUE DE LA REPUBLIQUE",
            "line2": "",
            "postal_code": "06000",
            "city": "nice",
            "country": "FRA",
        },
        "school_address": True,
        "printed_line": "COOP ECOLE JULES FERRY",
        "holder": "ELOISE MARTIN",
        "responsible": True,
        "requested_by": "Éloïse Martin",
        "requested_at": kept["requested_at"],
    }
    at = datetime.fromisoformat(kept["requested_at"])
    offset = at.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert timedelta(0) <= clock.now() - at < timedelta(seconds=10)
    [event] = request_events(runtime, case.id)
    assert event.trigger == "request" and event.actor.startswith("mandataire")

    html = html_of(client, PAGE)  # while the order step works: it reloads itself
    words = plain(html)
    assert "la carte est commandée à la banque, livrée à l'école" in words
    assert "Commandée : la carte est demandée à la banque" in words
    assert f'<meta http-equiv="refresh" content="5; url={PAGE}">' in html
    assert "12 RUE DE LA REPUBLIQUE, 06000 nice (l'école)" in words
    assert "Commander la carte" not in words


def test_another_address_with_its_reason_waits_for_the_ad(runtime, client, mandataire):
    reason = "L'école est fermée en juillet : livraison à la mairie."
    assert post(client, line1="1 place de la Mairie", reason=reason).status_code == 302
    case = card(runtime, mandataire.coop_id)
    assert case.state == "requested"
    kept = case.data["request"]
    assert kept["school_address"] is False and kept["reason"] == reason
    assert kept["address"]["line1"] == "1 place de la Mairie"
    [event] = request_events(runtime, case.id)
    assert event.trigger == "request_elsewhere"
    words = plain(html_of(client, PAGE))
    assert "Demandée : votre AD vérifie l'adresse de livraison" in words
    assert f"Votre motif : « {reason} »" in words
    assert '<meta http-equiv="refresh"' not in html_of(client, PAGE)


def test_a_refused_address_is_said_with_the_ads_reason(runtime, client, mandataire):
    assert post(client, city="Antibes", reason="Vacances.").status_code == 302
    case = card(runtime, mandataire.coop_id)
    with runtime.engine.transaction() as tx:
        tx.fire(case.id, "refuse_address", actor=STAFF, payload={"reason": "Livrez à l'école."})
    words = plain(html_of(client, PAGE))
    assert "Votre AD n'a pas approuvé l'adresse demandée : Livrez à l'école." in words
    assert "Commander la carte" in words


def test_a_second_tab_cannot_order_again(runtime, client, mandataire):
    first_tab, second_tab = html_of(client, PAGE), html_of(client, PAGE)
    assert post(client, first_tab).status_code == 302
    again = post(client, second_tab, printed_line="AUTRE LIGNE")  # other values
    assert again.status_code == 409
    assert "La carte est déjà demandée" in text(again)
    case = card(runtime, mandataire.coop_id)
    assert case.data["request"]["printed_line"] == "COOP ECOLE JULES FERRY"
    assert len(request_events(runtime, case.id)) == 1


# --- the holder's name -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "printed"),
    [
        ("Éloïse", "Martin", "ELOISE MARTIN"),
        ("Jean-Baptiste", "Martin-Dupont", "J.-B. MARTIN-DUPONT"),
        ("Marie Claire", "Berthelot", "M. C. BERTHELOT"),
        ("Anne-Sophie", "Montmorency-Laval", "A.-S. MONTMORENCY-LA"),
        ("Œdipe", "Lœuvre", "OEDIPE LOEUVRE"),
        ("Françoise", "Abcdefghijk", "F. ABCDEFGHIJK"),
    ],
)
def test_the_holder_is_printed_in_20_characters_at_most(first, last, printed):
    assert printed_holder(first, last) == printed
    assert len(printed_holder(first, last)) <= 20


def test_an_abbreviated_holder_is_shown_and_kept(runtime, client, mandataire):
    with runtime.db.write() as s:
        person = s.get(Mandataire, mandataire.id)
        person.first_name, person.last_name = "Jean-Baptiste", "Martin-Dupont"
    words = plain(html_of(client, PAGE))
    assert "Nom du titulaire imprimé sur la carte : J.-B. MARTIN-DUPONT" in words
    assert "« Jean-Baptiste Martin-Dupont » est abrégé, le prénom réduit à son initiale" in words
    assert post(client).status_code == 302
    assert card(runtime, mandataire.coop_id).data["request"]["holder"] == "J.-B. MARTIN-DUPONT"


def test_a_long_school_street_is_prefilled_on_two_lines(runtime, client, mandataire):
    street = "12 avenue du Maréchal de Lattre de Tassigny"
    assert school_lines(street) == ("12 avenue du Maréchal de Lattre de", "Tassigny")
    with runtime.db.write() as s:
        s.get(Coop, mandataire.coop_id).street = street
    html = html_of(client, PAGE)
    assert 'value="12 avenue du Maréchal de Lattre de"' in html and 'value="Tassigny"' in html
    two_lines = {"line1": "12 avenue du Maréchal de Lattre de", "line2": "Tassigny"}
    assert post(client, **two_lines).status_code == 302  # still the school's
    assert card(runtime, mandataire.coop_id).state == "ordering"


# --- after the request ------------------------------------------------------------------


def test_each_later_state_says_what_happens(runtime, app, client, ad, quiet):
    person, _ = to_order(runtime.engine, ad)
    log_in(runtime, app, client, person)
    case = card_at(runtime.engine, ad, "consent_pending", person)
    words = plain(html_of(client, PAGE))
    assert "Le lien de la banque n'est pas encore arrivé" in words
    keep(runtime, case, status="ConsentPending", consent_url="https://bank.example/consent/1")
    html = html_of(client, PAGE)
    assert 'href="https://bank.example/consent/1"' in html
    assert "Donner mon accord à la banque" in plain(html)

    with runtime.engine.transaction() as tx:
        tx.fire(case.id, "printing", actor=SYSTEM)
    assert "La banque fabrique la carte." in plain(html_of(client, PAGE))

    keep(
        runtime,
        case,
        status="ToActivate",
        tracking_number="LA123456789FR",
        estimated_delivery="2026-11-12",
    )
    with runtime.engine.transaction() as tx:
        tx.fire(case.id, "shipped_by_swan", actor=SYSTEM)
    words = plain(html_of(client, PAGE))
    assert "Envoyée : activez la carte dès réception" in words
    assert "Livraison prévue le 12/11/2026." in words and "Numéro de suivi : LA123456789FR" in words
    assert "activez la carte dans l'application de la banque" in words

    with runtime.engine.transaction() as tx:
        tx.fire(case.id, "record_return", actor=STAFF, payload={"received_on": "2026-11-20"})
    words = plain(html_of(client, PAGE))
    assert "La carte est arrivée au siège de votre AD" in words
    assert "Votre AD vous la renvoie ou vous la remet" in words

    with runtime.engine.transaction() as tx:  # handed over, then activated
        tx.fire(case.id, "hand_over", actor=STAFF)
        tx.fire(case.id, "activate", actor=SYSTEM)
    words = plain(html_of(client, PAGE))
    assert "Terminé : la carte est activée" in words
    assert "pour récupérer votre code PIN" in words
    assert "Vous êtes responsable de l'utilisation de la carte bancaire de la coopérative." in words
    assert "suspendue" not in words

    keep(runtime, case, status="Suspended")
    words = plain(html_of(client, PAGE))
    assert "La carte est suspendue" in words and "trois codes PIN faux" in words
    assert f"appelez votre AD ({ad.name}" in words


def test_a_cancelled_order_says_why_and_whom_to_ask(runtime, app, client, ad, quiet):
    person, _ = to_order(runtime.engine, ad)
    log_in(runtime, app, client, person)
    card_at(runtime.engine, ad, "cancelled", person)
    words = plain(html_of(client, PAGE))
    assert "La commande de la carte est annulée. Motif : « Doublon. »" in words
    assert f"demandez à votre AD ({ad.name})" in words


@pytest.mark.parametrize("state", ["requested", "ordering", "processing", "shipped"])
def test_every_state_reads_in_french_with_its_label(runtime, app, client, ad, quiet, state):
    person, _ = to_order(runtime.engine, ad)
    log_in(runtime, app, client, person)
    card_at(runtime.engine, ad, state, person)
    words = plain(html_of(client, PAGE))  # one h1, French typography
    assert "Votre demande" in words and "Commander la carte" not in words


def test_another_coops_mandataire_sees_nothing_of_it(runtime, app, client, ad, mandataire):
    assert post(client).status_code == 302
    other = active_account(runtime.engine, ad)
    log_in(runtime, app, client, other)
    html_of(client, PAGE)  # the first one's message, flashed before the login, read
    words = plain(html_of(client, PAGE))
    assert "COOP ECOLE JULES FERRY" not in words and "Votre demande" not in words
    refused = post(client, html_of(client, PAGE))
    assert refused.status_code == 409
    assert len(request_events(runtime, card(runtime, mandataire.coop_id).id)) == 1


# --- after activation: Swan asked; back from the AD; odd values ------------------------


class _Swan:
    """Swan's adapter as the page reads a card: ``status``, or ``fails`` raised."""

    def __init__(self, status: str | None = None, fails: Exception | None = None) -> None:
        self.status, self.fails = status, fails
        self.asked: list[str] = []

    def card(self, card_id: str) -> Any:
        self.asked.append(card_id)
        if self.fails is not None:
            raise self.fails
        return SimpleNamespace(id=card_id, physical_status=self.status)


def _activated(**data: Any) -> Case:
    return Case(process=PROCESS, state="activated", data=data)


def test_an_activated_card_is_read_from_swan_by_the_id_the_order_kept():
    case = _activated(order={"card_id": "card-1"}, card={"status": "Activated"})
    swan = _Swan("Suspended")
    assert status_now(swan, case) == "Suspended" and swan.asked == ["card-1"]
    assert status_now(_Swan("ToRenew"), case) == "ToRenew"
    # Swan silent or refusing, or a status that is no later one: what the case kept.
    assert status_now(_Swan(fails=TransientStepError("délai")), case) == "Activated"
    assert status_now(_Swan(fails=PermanentStepError("refus")), case) == "Activated"
    assert status_now(_Swan("Processing"), case) == "Activated"
    # Not activated yet, or never ordered: Swan is not asked.
    unasked = _Swan("Suspended")
    shipped = Case(process=PROCESS, state="shipped", data=case.data)
    assert status_now(unasked, shipped) == "Activated"
    assert status_now(unasked, _activated(card={"status": "Activated"})) == "Activated"
    assert unasked.asked == [] and status_now(unasked, None) is None


def test_a_card_suspended_at_swan_is_shown_with_what_to_do(runtime, app, client, ad, quiet):
    person, _ = to_order(runtime.engine, ad)
    log_in(runtime, app, client, person)
    case = card_at(runtime.engine, ad, "activated", person)
    with runtime.engine.transaction() as tx:
        locked = tx.lock(case.id)
        locked.data = {**locked.data, "order": {"card_id": "card-9"}}
    swan, runtime.swan = runtime.swan, _Swan("Suspended")
    try:
        words = plain(html_of(client, PAGE))
    finally:
        runtime.swan = swan
    assert "La carte est suspendue" in words and "pour récupérer votre code PIN" in words


@pytest.mark.parametrize(
    ("trigger", "said"),
    [("hand_over", "vous a remis la carte"), ("resend", "vous a été renvoyée à l'école")],
)
def test_a_card_back_from_the_ad_says_how_it_came(runtime, app, client, ad, quiet, trigger, said):
    person, _ = to_order(runtime.engine, ad)
    log_in(runtime, app, client, person)
    case = card_at(runtime.engine, ad, "returned_to_ad", person)
    with runtime.engine.transaction() as tx:
        tx.fire(case.id, trigger, actor=STAFF)
    words = plain(html_of(client, PAGE))
    assert said in words and "Envoyée : activez la carte dès réception" in words
    assert "La carte est envoyée à l'adresse demandée" not in words


def test_a_consent_link_that_is_not_a_web_address_is_not_offered(runtime, app, client, ad, quiet):
    person, _ = to_order(runtime.engine, ad)
    log_in(runtime, app, client, person)
    case = card_at(runtime.engine, ad, "consent_pending", person)
    keep(runtime, case, consent_url="javascript:alert(1)")
    html = html_of(client, PAGE)
    assert "javascript:" not in html and "Le lien de la banque n'est pas encore arrivé" in plain(
        html
    )


def test_a_postal_code_longer_in_capitals_is_counted_in_capitals(runtime, client, mandataire):
    assert_refused(
        runtime,
        client,
        mandataire,
        "postal_code",
        "12 caractères : 10 au plus.",
        postal_code="ß" * 6,
        reason="Ailleurs.",
    )


def test_what_the_mandataire_typed_is_shown_as_text(runtime, client, mandataire):
    payload = '<script>alert("x")</script>'
    assert (
        post(client, city="Antibes", reason=payload, printed_line="<b>COOP</b>").status_code == 302
    )
    html = html_of(client, PAGE)
    assert payload not in html and "<b>COOP</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;COOP&lt;/b&gt;" in html


def test_an_address_too_long_is_not_asked_for_a_reason_too(runtime, client, mandataire):
    html = assert_refused(
        runtime, client, mandataire, "line1", "40 caractères : 38 au plus.", line1="X" * 40
    )
    assert error(html, "reason") is None and "corrigez le champ signalé" in plain(html)
