"""The kyc's staff tasks through the back-office: the identity checked by hand
(« Vérifier l'identité »: a binding mismatch, the manual path), « Appeler le
mandataire » after two refusals, and « Relancer le mandataire » over the stuck list's
filter. The cases are brought where the forms act by the engine (no worker)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.admin.conftest import csrf_token, log_in, text
from tests.admin.test_iban_forms import STALE, _events, _flash, _post
from tests.helpers import active_account, case_of
from workflows.engine import assignment, bulk
from workflows.engine.engine import Actor
from workflows.engine.scheduling import tick
from workflows.models import Case, Step

SWAN = Actor.system("Swan")
MEMBERSHIP = "e4b5f6c2-0d1a-4c3b-9a8e-membership"
FIELDS = ["lastNameMatchError", "birthDateMatchError"]


def kyc_case(rt: Any, ad: Any, *, mismatch: bool = False, manual: bool = False) -> tuple[int, Any]:
    """A kyc case of a new coop of ``ad``, its instructions sent (``link_sent``), as the
    steps leave it; with Swan's membership not matching the record when ``mismatch``."""
    mandataire = active_account(rt.engine, ad)
    case_id = case_of(rt.engine, mandataire.coop_id, "kyc").id
    with rt.engine.transaction() as tx:
        case = tx.lock(case_id)
        assert case.state == "link_sent"
        case.data = {
            **case.data,
            "mandataire_id": mandataire.id,
            "membership_id": MEMBERSHIP,
            "identification_url": None if manual else "https://swan.example/identite",
            "swan_status": "Pending",
            "membership_status": "BindingUserError" if mismatch else "InvitationSent",
            "mismatch": FIELDS if mismatch else [],
            "reasons": [],
            "refusals": 0,
        }
    if mismatch:
        with rt.engine.transaction() as tx:
            tx.fire(
                case_id,
                "binding_mismatch",
                actor=SWAN,
                payload={"mismatch": "le nom et la date de naissance", "fields": FIELDS},
            )
    return case_id, mandataire


def _case(rt: Any, case_id: int) -> Case:
    with rt.db.read() as session:
        return session.get(Case, case_id)


def _page(client: Any, case_id: int) -> str:
    response = client.get(f"/admin/dossiers/{case_id}/identite")
    assert response.status_code == 200, response.status_code
    return text(response)


def _steps(rt: Any, case_id: int) -> list[str]:
    with rt.db.read() as session:
        return list(
            session.scalars(select(Step.name).where(Step.case_id == case_id).order_by(Step.id))
        )


def _refuse(client: Any, rt: Any, case_id: int, **fields: Any) -> Any:
    page = _page(client, case_id)
    return _post(
        client,
        f"/admin/dossiers/{case_id}/identite/refusee",
        "refused",
        _case(rt, case_id).version,
        page,
        **fields,
    )


def test_the_page_shows_what_swan_said_and_what_does_not_match(client, rt, ad, staff06):
    case_id, mandataire = kyc_case(rt, ad, mismatch=True)
    case = _case(rt, case_id)
    assert (case.state, case.stuck_reason) == ("pending_review", "kyc_binding_mismatch")
    log_in(client, staff06)
    page = _page(client, case_id)
    assert "Enregistrer le résultat de la vérification d'identité" in page
    assert (
        "L'identité vérifiée par Swan ne correspond pas à la fiche du mandataire : le nom et "
        "la date de naissance." in page
    )
    assert MEMBERSHIP in page and mandataire.full_name in page
    words = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Statut de l'adhésion identité différente de la fiche (BindingUserError)" in words
    assert "Dernier statut de la vérification en cours d'examen (Pending)" in words
    facts = re.search(r'<div class="alert alert-warning kyc-mismatch">(.*?)</div>', page, re.S)
    assert facts and re.findall(r"<li>(.*?)</li>", facts.group(1)) == [
        "le nom",
        "la date de naissance",
    ]
    for source in ("Vu dans le tableau de bord Swan", "Confirmé par AssoConnect"):
        assert source in page
    assert "La pièce d'identité présentée est expirée. (ExpiredDocument)" in page


def test_identity_verified_by_hand_names_where_it_was_seen(client, rt, ad, staff06):
    case_id, _ = kyc_case(rt, ad, mismatch=True)
    log_in(client, staff06)
    page = _page(client, case_id)
    url = f"/admin/dossiers/{case_id}/identite/verifiee"
    version = _case(rt, case_id).version
    refused = _post(client, url, "valid", version, page, comment="")
    assert refused.status_code == 422
    assert "Indiquez où vous avez vu ce résultat." in text(refused)
    assert "Indiquez ce que vous avez vu" in text(refused)
    assert _case(rt, case_id).state == "pending_review"

    done = _post(
        client,
        url,
        "valid",
        version,
        page,
        source="swan",
        comment="Nom d'usage sur la fiche, nom de naissance chez Swan.",
    )
    assert done.status_code == 302
    assert "Identité enregistrée comme vérifiée." in _flash(
        text(client.get(done.headers["Location"]))
    )
    case = _case(rt, case_id)
    assert (case.state, case.stuck_reason) == ("verified", None)
    last = _events(rt, case_id)[-1]
    assert (last.trigger, last.actor) == ("validate", f"staff:{staff06.id} Claire Agent")
    assert last.payload == {"source": "swan"}
    assert last.comment == (
        "Vu dans le tableau de bord Swan : Nom d'usage sur la fiche, nom de naissance chez Swan."
    )
    assert _steps(rt, case_id)[-1] == "notify_verified"


def test_the_manual_path_records_a_refusal_with_swans_reason(client, rt, ad, staff06):
    case_id, _ = kyc_case(rt, ad, manual=True)
    log_in(client, staff06)
    assert "manuel : le résultat ne vient pas de l'API de Swan" in _page(client, case_id)
    done = _refuse(
        client,
        rt,
        case_id,
        reason="ExpiredDocument",
        source="assoconnect",
        comment="Carte d'identité expirée en 2025.",
    )
    assert done.status_code == 302
    case = _case(rt, case_id)
    assert (case.state, case.stuck_reason) == ("invalid", None)  # a first refusal
    assert case.data["reasons"] == ["ExpiredDocument"] and case.data["refusals"] == 1
    last = _events(rt, case_id)[-1]
    assert last.payload == {
        "reasons": ["ExpiredDocument"],
        "reason": "La pièce d'identité présentée est expirée.",
        "refusals": 1,
        "source": "assoconnect",
    }
    assert last.comment == "Confirmé par AssoConnect : Carte d'identité expirée en 2025."
    assert _steps(rt, case_id)[-1] == "notify_refused"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"source": "swan", "comment": "Vu."}, "Choisissez le motif du refus dans la liste."),
        (
            {"reason": "PasUnMotif", "source": "swan", "comment": "Vu."},
            "Choisissez le motif du refus dans la liste.",
        ),
        ({"reason": "ExpiredDocument", "comment": "Vu."}, "Indiquez où vous avez vu ce résultat."),
        (
            {"reason": "ExpiredDocument", "source": "ailleurs", "comment": "Vu."},
            "Indiquez où vous avez vu ce résultat.",
        ),
        ({"reason": "ExpiredDocument", "source": "swan"}, "Indiquez ce que vous avez vu"),
        (
            {"reason": "ExpiredDocument", "source": "swan", "comment": "x" * 2001},
            "Commentaire trop long",
        ),
    ],
)
def test_a_refusal_without_its_reason_or_source_changes_nothing(
    client, rt, ad, staff06, fields, error
):
    case_id, _ = kyc_case(rt, ad, mismatch=True)
    log_in(client, staff06)
    before = len(_events(rt, case_id))
    refused = _refuse(client, rt, case_id, **fields)
    assert refused.status_code == 422
    assert error in text(refused)
    assert _case(rt, case_id).state == "pending_review"
    assert len(_events(rt, case_id)) == before


def test_refused_twice_then_the_call_is_noted_from_the_case_page(client, rt, ad, staff06):
    case_id, mandataire = kyc_case(rt, ad, manual=True)
    log_in(client, staff06)
    first = _refuse(
        client, rt, case_id, reason="ExpiredDocument", source="swan", comment="Pièce expirée."
    )
    assert first.status_code == 302
    with rt.engine.transaction() as tx:
        tx.fire(case_id, "retry", actor=Actor.mandataire(mandataire))
    second = _refuse(
        client,
        rt,
        case_id,
        reason="NonOriginalDocument",
        source="swan",
        comment="Photocopie de la carte.",
    )
    assert second.status_code == 302
    case = _case(rt, case_id)
    assert (case.state, case.stuck_reason, case.stuck_action) == (
        "invalid",
        "kyc_refused_twice",
        "call_mandataire",
    )
    assert case.data["refusals"] == 2

    # The case page: the stuck banner holds the form that notes the call.
    page = text(client.get(f"/admin/dossiers/{case_id}"))
    assert (
        "La vérification d'identité a été refusée 2 fois (dernier motif : La pièce présentée "
        "était une copie (photo, photocopie ou écran).)." in page
    )
    banner = re.search(r'id="recommandee".*?</form>', page, re.S)
    assert banner and 'id="action-call_mandataire"' in banner.group(0)
    url = f"/admin/dossiers/{case_id}/declencher/call_mandataire"
    empty = _post(client, url, "call_mandataire", case.version, page, comment=" ")
    assert empty.status_code == 422 and "Indiquez un commentaire" in text(empty)
    noted = _post(
        client,
        url,
        "call_mandataire",
        case.version,
        page,
        comment="Appel à 14 h : il refera la vérification avec son passeport.",
    )
    assert noted.status_code == 302
    case = _case(rt, case_id)
    assert (case.state, case.stuck_reason) == ("invalid", None)
    last = _events(rt, case_id)[-1]
    assert (last.trigger, last.actor) == ("call_mandataire", f"staff:{staff06.id} Claire Agent")
    assert last.comment == "Appel à 14 h : il refera la vérification avec son passeport."
    # Refused, it is no longer open: no outcome to record by hand.
    assert client.get(f"/admin/dossiers/{case_id}/identite").status_code == 302


def test_a_stale_page_other_ads_and_read_only_accounts_change_nothing(
    client, rt, ad, ad50, staff06, readonly06, national
):
    case_id, _ = kyc_case(rt, ad, mismatch=True)
    url = f"/admin/dossiers/{case_id}/identite"
    log_in(client, staff06)
    page = _page(client, case_id)
    version = _case(rt, case_id).version
    with rt.engine.transaction() as tx:
        assignment.assign(tx, tx.lock(case_id), Actor.staff(staff06), staff06.id)
    before = len(_events(rt, case_id))
    late = _post(client, f"{url}/verifiee", "valid", version, page, source="swan", comment="Vu.")
    assert late.status_code == 302
    assert any(STALE in m for m in _flash(text(client.get(late.headers["Location"]))))
    assert _case(rt, case_id).state == "pending_review"
    assert len(_events(rt, case_id)) == before

    client.application.config["WTF_CSRF_ENABLED"] = False
    form = {"valid-version": version + 1, "valid-source": "swan", "valid-comment": "Vu."}
    log_in(client, factories.StaffFactory(ad=ad50, full_name="Agent Manche"))
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/verifiee", data=form).status_code == 404
    log_in(client, readonly06)
    assert client.get(url).status_code == 403
    assert client.post(f"{url}/verifiee", data=form).status_code == 403
    assert _case(rt, case_id).state == "pending_review"
    log_in(client, national)
    assert client.get(url).status_code == 200


def test_relaunch_every_stalled_verification_from_the_filter(client, rt, clock, ad, national):
    stuck = [kyc_case(rt, ad)[0] for _ in range(3)]
    clock.advance(timedelta(days=14, minutes=1))
    tick(rt.engine)
    assert {_case(rt, c).stuck_reason for c in stuck} == {"kyc_stalled"}
    before = _instructions(rt, stuck)
    clock.advance(timedelta(minutes=5))
    log_in(client, national)
    listed = client.get("/admin/?motif=kyc_stalled").get_data(as_text=True)
    assert '<option value="fire:relaunch">Relancer le mandataire</option>' in listed
    created = client.post(
        "/admin/actions-groupees/creer",
        data={
            "csrf_token": csrf_token(listed),
            "portee": "filtre",
            "motif": "kyc_stalled",
            "action": "fire:relaunch",
            "comment": "Relance de la vérification",
            "retour": "/admin/?motif=kyc_stalled",
        },
    )
    assert created.status_code == 303, text(created)
    job_id = int(re.search(r"/actions-groupees/(\d+)", created.headers["Location"]).group(1))
    draft = text(client.get(f"/admin/actions-groupees/{job_id}"))
    assert "3 dossiers seront traités : Relancer le mandataire" in draft
    client.post(
        f"/admin/actions-groupees/{job_id}/confirmer", data={"csrf_token": csrf_token(draft)}
    )
    relaunched_from = rt.engine.clock.now()
    bulk.process(rt.engine, job_id)  # what a worker does with the confirmed job
    for case_id in stuck:
        case = _case(rt, case_id)
        assert (case.state, case.stuck_reason) == ("link_sent", None)
        assert case.state_entered_at >= relaunched_from
        assert _events(rt, case_id)[-1].trigger == "relaunch"
    # The instructions sent again, once each.
    assert _instructions(rt, stuck) == before + 3


def _instructions(rt: Any, case_ids: list[int]) -> int:
    with rt.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Step)
                .where(Step.case_id.in_(case_ids), Step.name == "request_identification")
            )
        )
