"""« Vérification d'identité » at each state of the coop's kyc case: what to prepare,
Swan's page in its own tab, the state in French (the page reloading itself while Swan
examines), a refusal's reason with what to do and « Recommencer la vérification » done
once whatever the clicks, the manual path, the verified date in Paris time."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests import factories
from tests.helpers import case_of, csrf_token
from tests.test_typography import assert_french, read
from tests.web.conftest import form_value, log_in_mandataire, settle, text
from workers.providers.swan.sandbox import set_outage
from workflows.engine.engine import Actor
from workflows.models import CaseEvent, Step, StepStatus
from workflows.processes.kyc.reasons import reason_text

PAGE = "/mon-espace/identite"
RETRY = "/mon-espace/identite/recommencer"
SWAN = Actor.system("swan")
REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+); url=/mon-espace/identite">')


def _kyc_id(runtime, coop) -> int:
    return case_of(runtime.engine, coop.coop_id, "kyc").id


def _move(runtime, case_id: int, *triggers: str, data: dict[str, Any] | None = None, **kw):
    """Fire ``triggers`` as the kyc steps would, the case's data first given ``data``."""
    with runtime.engine.transaction() as tx:
        case = tx.lock(case_id)
        if data:
            case.data = {**case.data, **data}
        for trigger in triggers:
            tx.fire(case_id, trigger, actor=SWAN, **kw)
    settle(runtime)


def _page(client) -> str:
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<h1") == 1
    assert_french(PAGE, read(html))  # « : ; ! ? » and « » that hold
    return text(response)


def _plain(page: str) -> str:
    """The page's words, without its tags."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def _refresh(page: str) -> int | None:
    found = REFRESH.search(page)
    return int(found.group(1)) if found else None


def _transitions(runtime, case_id: int, trigger: str) -> int:
    with runtime.db.read() as session:
        return len(
            session.scalars(
                select(CaseEvent.id).where(
                    CaseEvent.case_id == case_id, CaseEvent.trigger == trigger
                )
            ).all()
        )


@pytest.fixture
def kyc(runtime, app, client, make_coop):
    """A coop whose account is active, its mandataire logged in, its link to Swan
    prepared by ``request_identification`` (the sandbox's)."""
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    return coop


def test_link_sent_says_what_to_prepare_and_opens_swan_in_its_own_tab(runtime, client, kyc):
    page = _page(client)
    assert "À faire : vérifiez votre identité avec votre smartphone" in page
    for need in ("carte nationale d'identité ou votre passeport", "smartphone", "5 minutes"):
        assert need in page
    assert "Chez Swan, la banque partenaire du Compte Pro, sur sa propre page" in page
    url = case_of(runtime.engine, kyc.coop_id, "kyc").data["identification_url"]
    link = re.search(r'<a class="button" id="swan" href="([^"]+)"([^>]*)>([^<]+)</a>', page)
    assert link, page
    assert link.group(1) == url and "/sandbox/swan/identification/" in url
    assert 'target="_blank"' in link.group(2) and 'rel="noopener"' in link.group(2)
    assert "nouvel onglet" in link.group(3)
    assert _refresh(page) is None  # nothing moves without the mandataire
    assert "Recommencer la vérification</button>" not in page


def test_in_progress_and_pending_review_reload_themselves(runtime, client, kyc):
    case_id = _kyc_id(runtime, kyc)
    _move(runtime, case_id, "started")
    page = _page(client)
    assert "Commencée : terminez-la sur votre smartphone" in page
    assert "Continuer la vérification chez Swan" in page
    assert _refresh(page) == 30

    _move(runtime, case_id, "submitted")
    page = _page(client)
    assert "Pièces envoyées : Swan les examine" in page
    assert "Vous n'avez rien à faire" in page
    assert _refresh(page) == 15
    assert "toutes les 15 secondes" in page
    assert 'id="swan"' not in page and "Ce qu'il vous faut" not in page


def test_a_binding_mismatch_is_for_the_ads_team(runtime, client, kyc):
    mismatch = ["lastNameMatchError", "birthDateMatchError"]
    _move(
        runtime,
        _kyc_id(runtime, kyc),
        "binding_mismatch",
        data={"mismatch": mismatch},
        payload={"mismatch": "le nom et la date de naissance"},
    )
    page = _page(client)
    assert "le nom et la date de naissance ne correspondent pas à votre fiche" in page
    assert "L'équipe de votre association départementale (OCCE 06) vérifie votre identité" in page
    assert _refresh(page) is None  # the AD's team takes days, not seconds


def test_a_refusal_says_why_and_what_to_do_then_retry_works_once(runtime, client, kyc):
    case_id = _kyc_id(runtime, kyc)
    reasons = ["ExpiredDocument", "InsufficientDocumentReadability"]
    _move(runtime, case_id, "refuse", data={"reasons": reasons, "refusals": 1})
    page = _page(client)
    assert "Refusée : recommencez la vérification" in page
    for code in reasons:
        explained = reason_text(code)
        assert explained.what in page and f"À faire : {explained.todo}" in _plain(page)
    assert "va vous appeler" not in page
    assert "Recommencer la vérification</button>" in page

    fields = {"csrf_token": csrf_token(page), "submission": form_value(page, "submission")}
    first = client.post(RETRY, data=fields)
    second = client.post(RETRY, data=fields)  # a double click
    assert first.status_code == 302 and first.headers["Location"] == PAGE
    assert second.status_code == 303 and second.headers["Location"] == PAGE
    assert _transitions(runtime, case_id, "retry") == 1
    assert "C'est reparti" in _page(client)
    settle(runtime)
    page = _page(client)
    assert "À faire : vérifiez votre identité avec votre smartphone" in page
    assert 'id="swan"' in page

    # The same form posted again later (an old tab): the case has moved, nothing fires.
    stale = client.post(RETRY, data={"csrf_token": fields["csrf_token"]})
    assert stale.status_code == 409 and 'id="conflit"' in text(stale)
    assert _transitions(runtime, case_id, "retry") == 1


def test_refused_twice_the_ads_team_calls(runtime, client, kyc):
    _move(
        runtime,
        _kyc_id(runtime, kyc),
        "refuse",
        data={"reasons": ["SomethingSwanAddsLater"], "refusals": 2},
        payload={"refusals": 2, "reason": "?"},
    )
    page = _page(client)
    assert reason_text("SomethingSwanAddsLater").what in page
    assert "SomethingSwanAddsLater" not in page  # never a raw code
    assert "refusée 2 fois" in page and "va vous appeler" in page


def test_expired_is_retried_the_same_way(runtime, client, kyc):
    case_id = _kyc_id(runtime, kyc)
    _move(runtime, case_id, "expire")
    page = _page(client)
    assert "Expirée : recommencez la vérification" in page
    assert "n'a pas été terminée à temps" in page
    fields = {"csrf_token": csrf_token(page), "submission": form_value(page, "submission")}
    assert client.post(RETRY, data=fields).status_code == 302
    assert case_of(runtime.engine, kyc.coop_id, "kyc").state == "link_sent"


def test_verified_shows_the_date_in_paris_time(runtime, client, kyc):
    _move(runtime, _kyc_id(runtime, kyc), "validate")
    page = _page(client)
    # The tests' clock: 07:30 UTC, 09:30 in Paris.
    assert re.search(r"Identité vérifiée\s*</strong>\s*le 07/09/2026 à 09:30", page), page
    assert 'id="swan"' not in page and "Recommencer" not in page
    assert _refresh(page) is None


def test_the_manual_path_says_the_ads_team_will_get_in_touch(runtime, client, kyc):
    with runtime.engine.transaction() as tx:
        case = tx.lock(_kyc_id(runtime, kyc))
        case.data = {**case.data, "identification_url": None}
    page = _page(client)
    assert "l'équipe de votre association départementale (OCCE 06) va vous contacter" in page
    assert 'id="swan"' not in page and "sur sa propre page" not in page


def test_a_link_that_is_not_a_web_address_is_never_offered(runtime, client, kyc):
    with runtime.engine.transaction() as tx:
        case = tx.lock(_kyc_id(runtime, kyc))
        case.data = {**case.data, "identification_url": "javascript:alert(1)"}
    page = _page(client)
    assert "javascript:" not in page and 'id="swan"' not in page
    assert "n'a pas pu être préparé" in page


def test_while_swan_is_down_the_page_waits_for_the_new_link(runtime, client, clock, kyc):
    """After « Recommencer », the previous attempt's link is never offered: the page
    waits for ``request_identification``, which Swan's outage delays (the link shows
    once it has run: see the refusal's test)."""
    case_id = _kyc_id(runtime, kyc)
    _move(runtime, case_id, "refuse", data={"reasons": ["ExpiredDocument"]})
    set_outage(runtime.db, clock.now() + timedelta(minutes=30))
    page = _page(client)
    client.post(RETRY, data={"csrf_token": csrf_token(page)})
    _wait_for_a_failed_attempt(runtime, case_id)
    page = _page(client)
    assert "Le lien vers la page de Swan est en préparation" in page
    assert "Swan n'a pas encore répondu" in page
    assert 'id="swan"' not in page and _refresh(page) == 30


def _wait_for_a_failed_attempt(runtime, case_id: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with runtime.db.read() as session:
            step = session.scalars(
                select(Step).where(
                    Step.case_id == case_id,
                    Step.name == "request_identification",
                    Step.status == StepStatus.PENDING.value,
                    Step.attempts > 0,
                )
            ).first()
        if step is not None:
            return
        time.sleep(0.05)
    raise AssertionError("request_identification n'a pas échoué pendant la panne")


def test_a_coop_without_a_kyc_case_is_not_found(runtime, app, client, ad):
    person = factories.MandataireFactory(coop__ad=ad, password_hash="argon2-hash-of-the-tests")
    log_in_mandataire(app, client, person.id)
    assert client.get(PAGE).status_code == 404
    token = csrf_token(text(client.get("/mon-espace")))
    refused = client.post(RETRY, data={"csrf_token": token})
    assert refused.status_code == 404


def test_another_coops_mandataire_sees_only_their_own(runtime, app, client, make_coop, kyc):
    other = make_coop("active")
    _move(runtime, _kyc_id(runtime, kyc), "refuse", data={"reasons": ["ExpiredDocument"]})
    theirs = app.test_client()
    log_in_mandataire(app, theirs, other.mandataire_id)
    page = text(theirs.get(PAGE))
    mine = case_of(runtime.engine, kyc.coop_id, "kyc").data["identification_url"]
    assert mine not in page and "Refusée" not in page
    # Their « Recommencer » cannot reach my case.
    refused = theirs.post(RETRY, data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 409
    assert case_of(runtime.engine, kyc.coop_id, "kyc").state == "invalid"
