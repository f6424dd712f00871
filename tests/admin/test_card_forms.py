"""card_order in the back-office: « Approuver l'adresse de livraison » (the address asked
beside the school's and the reason; « Approuver », « Refuser » with the reason the
mandataire reads), « Enregistrer une carte revenue à l'AD » then « Renvoyer la carte à
l'école » or « Remettre la carte au mandataire » (kept in ``case.data["return"]``),
« Relancer la banque », « Annuler la commande »; the reminders left to the generic
forms. Each French error changes nothing; another AD's staff get 404, read-only
accounts 403; two staff at once: one wins, the other reads why. The cases are brought
where the forms act by the engine (tests/card_helpers.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.admin.conftest import log_in
from tests.admin.test_advance_forms import _case, _events, _post, _shown, plain, text
from tests.admin.test_iban_forms import STALE
from tests.card_helpers import card_at
from tests.transfer_helpers import steps_of
from workflows.engine.scheduling import tick
from workflows.models import Case

CASE = "/admin/dossiers/{}"
ADDRESS = "/admin/dossiers/{}/carte/adresse"
RETURNED = "/admin/dossiers/{}/carte/revenue"
RETURN = "/admin/dossiers/{}/carte/retour"
NOT_OFFERED = "Cette tâche n'est plus à faire sur ce dossier"


# « Approuver l'adresse de livraison » --------------------------------------------------


def test_the_address_review_shows_both_addresses_and_the_reason(client, rt, ad, staff06):
    case = card_at(rt.engine, ad, "requested")
    log_in(client, staff06)
    page = text(client.get(ADDRESS.format(case.id)))
    words = plain(page)
    assert "Adresse de livraison demandée 9 rue Droite 06000 Nice" in words
    assert "Adresse de l'école 12 rue de la République 06000 Nice" in words
    assert "Pourquoi pas l'école L'école est fermée pendant les vacances." in words
    assert 'id="decision-approve"' in page and 'id="decision-refuse"' in page
    # The case page leads to it (its task too) and never fires its triggers bare.
    case_page = text(client.get(CASE.format(case.id)))
    assert f'href="{ADDRESS.format(case.id)}">Approuver l' in case_page
    assert 'id="action-approve_address"' not in case_page
    assert 'id="action-refuse_address"' not in case_page
    assert "Approuver l'adresse de livraison de la carte" in case_page  # the task


def test_staff_approve_the_address_and_the_card_is_ordered(client, rt, ad, staff06):
    case = card_at(rt.engine, ad, "requested")
    log_in(client, staff06)
    page = text(client.get(ADDRESS.format(case.id)))
    done = _post(client, f"{ADDRESS.format(case.id)}/approuver", "approve", page, case.version)
    assert "Adresse de livraison approuvée : la carte est commandée" in _shown(client, done)
    assert _case(rt.engine, case.id).state == "ordering"
    [event] = _events(rt.engine, case.id, "approve_address")
    assert event.actor == f"staff:{staff06.id} Claire Agent"
    assert steps_of(rt.engine, case.id)[-1] == "order_card"


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ("   ", "Indiquez pourquoi l'adresse est refusée : le mandataire le lira."),
        ("x" * 2001, "Motif trop long (2000 caractères au plus)."),
    ],
    ids=["empty", "too long"],
)
def test_a_refusal_without_a_good_reason_changes_nothing(client, rt, ad, staff06, reason, error):
    case = card_at(rt.engine, ad, "requested")
    log_in(client, staff06)
    page = text(client.get(ADDRESS.format(case.id)))
    refused = _post(
        client, f"{ADDRESS.format(case.id)}/refuser", "refuse", page, case.version, reason=reason
    )
    assert refused.status_code == 422
    shown = text(refused)
    assert 'id="refuse-reason"' in shown and error in shown
    after = _case(rt.engine, case.id)
    assert (after.state, after.version) == ("requested", case.version)
    assert _events(rt.engine, case.id, "refuse_address") == []


def test_staff_refuse_the_address_with_the_reason_the_mandataire_reads(client, rt, ad, staff06):
    case = card_at(rt.engine, ad, "requested")
    log_in(client, staff06)
    page = text(client.get(ADDRESS.format(case.id)))
    reason = "  Livrez-la à l'école : le courrier y est relevé l'été. "
    done = _post(
        client, f"{ADDRESS.format(case.id)}/refuser", "refuse", page, case.version, reason=reason
    )
    assert "le mandataire reçoit le motif par email" in _shown(client, done)
    assert _case(rt.engine, case.id).state == "to_order"
    [event] = _events(rt.engine, case.id, "refuse_address")
    assert event.payload == {"reason": reason.strip()}
    assert "notify_address_refused" in steps_of(rt.engine, case.id)


# A card back at the AD -----------------------------------------------------------------


def _record(client: Any, case: Any, **fields: Any) -> Any:
    page = text(client.get(RETURN.format(case.id)))
    url = f"{RETURN.format(case.id)}/enregistrer"
    return _post(client, url, "card_return", page, case.version, **fields)


@pytest.mark.parametrize(
    ("received_on", "error"),
    [
        ("", "Indiquez le jour où la carte est arrivée à l'AD (jj/mm/aaaa)."),
        ("2026-09-08", "Le jour d'arrivée de la carte ne peut pas être dans le futur."),
        ("hier", "Date invalide : utilisez le format jj/mm/aaaa."),
    ],
    ids=["missing", "tomorrow", "not a day"],
)
def test_a_bad_return_day_is_refused_in_french(client, rt, ad, staff06, received_on, error):
    case = card_at(rt.engine, ad, "shipped")
    log_in(client, staff06)
    refused = _record(client, case, received_on=received_on)
    assert refused.status_code == 422
    shown = text(refused)
    assert 'id="card_return-received_on"' in shown and error in shown
    after = _case(rt.engine, case.id)
    assert after.state == "shipped" and "return" not in after.data


def test_a_card_back_at_the_ad_is_recorded_then_resent(client, rt, ad, staff06):
    case = card_at(rt.engine, ad, "shipped")
    log_in(client, staff06)
    case_page = text(client.get(CASE.format(case.id)))
    assert f'href="{RETURN.format(case.id)}">Enregistrer une carte revenue' in case_page
    assert 'id="action-record_return"' not in case_page
    assert 'value="2026-09-07"' in text(client.get(RETURN.format(case.id)))  # today
    done = _record(client, case, received_on="05/09/2026")
    assert "Carte revenue à l'AD le 05/09/2026" in _shown(client, done)
    back = _case(rt.engine, case.id)
    assert (back.state, back.stuck_reason) == ("returned_to_ad", "card_returned_to_ad")
    assert back.data["return"] == {"received_on": "2026-09-05", "by": "Claire Agent"}
    [event] = _events(rt.engine, case.id, "record_return")
    assert event.payload == {"received_on": "2026-09-05"}
    assert steps_of(rt.engine, case.id)[-1] == "notify_returned"
    # The case page recommends the page where it is sent on; no bare generic form.
    case_page = text(client.get(CASE.format(case.id)))
    assert "Action recommandée : Renvoyer la carte" in plain(case_page)
    assert f'href="{RETURNED.format(case.id)}"' in case_page
    assert 'id="action-resend"' not in case_page and 'id="action-hand_over"' not in case_page
    page = text(client.get(RETURNED.format(case.id)))
    assert "Revenue à l'AD le 05/09/2026 (enregistrée par Claire Agent)" in plain(page)
    assert "Adresse de l'école 12 rue de la République 06000 Nice" in plain(page)
    sent = _post(client, f"{RETURNED.format(case.id)}/renvoyer", "resend", page, back.version)
    assert "Carte renvoyée à l'école" in _shown(client, sent)
    after = _case(rt.engine, case.id)
    assert (after.state, after.stuck_reason) == ("shipped", None)
    assert after.data["return"] == {
        "received_on": "2026-09-05",
        "by": "Claire Agent",
        "outcome": "resent",
    }
    assert steps_of(rt.engine, case.id)[-1] == "notify_shipped"


def test_a_card_back_at_the_ad_handed_over(client, rt, ad, staff06):
    case = card_at(rt.engine, ad, "shipped")
    log_in(client, staff06)
    assert _record(client, case, received_on="2026-09-07").status_code == 302
    back = _case(rt.engine, case.id)
    page = text(client.get(RETURNED.format(case.id)))
    url = f"{RETURNED.format(case.id)}/remettre"
    too_long = _post(client, url, "hand_over", page, back.version, comment="x" * 2001)
    assert too_long.status_code == 422
    assert "Commentaire trop long (2000 caractères au plus)." in text(too_long)
    assert _case(rt.engine, case.id).data["return"].get("outcome") is None
    done = _post(client, url, "hand_over", page, back.version, comment="Remise à la directrice.")
    assert "Carte remise au mandataire" in _shown(client, done)
    after = _case(rt.engine, case.id)
    assert after.state == "shipped" and after.data["return"]["outcome"] == "handed_over"
    [event] = _events(rt.engine, case.id, "hand_over")
    assert event.comment == "Remise à la directrice."


def test_two_staff_at_once_one_sends_the_card_on(client, rt, ad, staff06, national):
    case = card_at(rt.engine, ad, "returned_to_ad")
    log_in(client, staff06)
    page = text(client.get(RETURNED.format(case.id)))
    resend = f"{RETURNED.format(case.id)}/renvoyer"
    with rt.engine.transaction() as tx:  # someone assigns the case meanwhile
        tx.lock(case.id).assignee_id = staff06.id
        tx.lock(case.id).version += 1
    assert STALE in _shown(client, _post(client, resend, "resend", page, case.version))
    assert "return" not in _case(rt.engine, case.id).data
    # National staff (who act on every AD's cases) hand it over; the page left open
    # sends nothing on.
    fresh = _case(rt.engine, case.id)
    other = client.application.test_client()
    log_in(other, national)
    their_page = text(other.get(RETURNED.format(case.id)))
    url = f"{RETURNED.format(case.id)}/remettre"
    assert _post(other, url, "hand_over", their_page, fresh.version).status_code == 302
    late = _post(client, resend, "resend", page, fresh.version)
    assert NOT_OFFERED in _shown(client, late)
    after = _case(rt.engine, case.id)
    # The day it came back, from the history (the helper fired record_return alone).
    assert after.data["return"] == {"received_on": "2026-11-20", "outcome": "handed_over"}
    fired = [e.trigger for e in _events(rt.engine, case.id)]
    assert "hand_over" in fired and "resend" not in fired


def test_a_stale_page_records_no_return(client, rt, ad, staff06):
    case = card_at(rt.engine, ad, "shipped")
    log_in(client, staff06)
    page = text(client.get(RETURN.format(case.id)))
    with rt.engine.transaction() as tx:  # someone changed the case meanwhile
        tx.lock(case.id).version += 1
    stale = _post(
        client,
        f"{RETURN.format(case.id)}/enregistrer",
        "card_return",
        page,
        case.version,
        received_on="2026-09-07",
    )
    assert STALE in _shown(client, stale)
    assert "return" not in _case(rt.engine, case.id).data


# The bank followed up, the order cancelled, the reminders -------------------------------


def test_staff_follow_up_the_bank_with_what_they_did(client, rt, ad, staff06):
    case = card_at(rt.engine, ad, "processing")
    log_in(client, staff06)
    page = text(client.get(CASE.format(case.id)))
    assert 'id="action-card_follow_up"' in page
    url = f"{CASE.format(case.id)}/carte/relance"
    empty = _post(client, url, "card_follow_up", page, case.version, comment=" ")
    assert empty.status_code == 422
    assert "Dites comment la banque a été relancée" in text(empty)
    assert _events(rt.engine, case.id, "follow_up_card") == []
    done = _post(client, url, "card_follow_up", page, case.version, comment="Appel à Swan.")
    assert "Relance de la banque enregistrée" in _shown(client, done)
    [event] = _events(rt.engine, case.id, "follow_up_card")
    assert event.payload == {"comment": "Appel à Swan."}
    assert _case(rt.engine, case.id).state == "processing"


def test_a_card_made_too_long_recommends_following_up_the_bank(client, rt, clock, ad, staff06):
    case = card_at(rt.engine, ad, "processing")
    clock.advance(timedelta(days=10, minutes=1))
    tick(rt.engine)
    stuck = _case(rt.engine, case.id)
    assert stuck.stuck_reason == "card_processing_late"
    log_in(client, staff06)
    page = text(client.get(CASE.format(case.id)))
    assert "Action recommandée : Relancer la banque" in plain(page)
    [form] = re.findall(r'id="action-card_follow_up".*?</form>', page, re.S)
    assert "btn-danger" in form  # the recommended form, in the alert


def test_staff_cancel_the_order_with_a_comment(client, rt, ad, staff06):
    case = card_at(rt.engine, ad, "consent_pending")
    log_in(client, staff06)
    page = text(client.get(CASE.format(case.id)))
    assert 'id="action-card_cancel"' in page
    url = f"{CASE.format(case.id)}/carte/annuler"
    empty = _post(client, url, "card_cancel", page, case.version, comment="")
    assert "Dites pourquoi la commande est annulée" in text(empty)
    assert _case(rt.engine, case.id).state == "consent_pending"
    done = _post(client, url, "card_cancel", page, case.version, comment="Commandée en double.")
    assert "Commande de la carte annulée." in _shown(client, done)
    assert _case(rt.engine, case.id).state == "cancelled"
    assert 'id="action-card_cancel"' not in text(client.get(CASE.format(case.id)))


@pytest.mark.parametrize(
    ("state", "trigger"),
    [("consent_pending", "relaunch_consent"), ("shipped", "relaunch_activation")],
)
def test_the_reminders_are_the_generic_forms(client, rt, ad, staff06, state, trigger):
    case = card_at(rt.engine, ad, state)
    log_in(client, staff06)
    page = text(client.get(CASE.format(case.id)))
    assert f'id="action-{trigger}"' in page
    done = _post(
        client,
        f"{CASE.format(case.id)}/declencher/{trigger}",
        trigger,
        page,
        case.version,
        comment="Relancé par téléphone aussi.",
    )
    assert done.status_code == 302
    assert steps_of(rt.engine, case.id)[-1] == "send_reminder"


# Access ---------------------------------------------------------------------------------


def test_another_ads_staff_find_nothing(client, rt, ad, ad50, staff06):
    theirs = card_at(rt.engine, ad50, "returned_to_ad")
    log_in(client, staff06)
    assert client.get(RETURNED.format(theirs.id)).status_code == 404
    assert client.get(CASE.format(theirs.id)).status_code == 404
    page = text(client.get("/admin/dossiers/"))
    for url, prefix in (
        (f"{RETURNED.format(theirs.id)}/renvoyer", "resend"),
        (f"{CASE.format(theirs.id)}/carte/annuler", "card_cancel"),
    ):
        forged = _post(client, url, prefix, page, theirs.version, comment="Non.")
        assert forged.status_code == 404
    assert _case(rt.engine, theirs.id).state == "returned_to_ad"


def test_a_read_only_account_acts_on_nothing(client, rt, ad, readonly06):
    case = card_at(rt.engine, ad, "requested")
    shipped = card_at(rt.engine, ad, "shipped")
    log_in(client, readonly06)
    assert client.get(ADDRESS.format(case.id)).status_code == 403
    assert client.get(RETURN.format(shipped.id)).status_code == 403
    page = text(client.get(CASE.format(shipped.id)))
    assert f'href="{RETURN.format(shipped.id)}"' not in page
    refused = _post(
        client,
        f"{RETURN.format(shipped.id)}/enregistrer",
        "card_return",
        page,
        shipped.version,
        received_on="2026-09-07",
    )
    assert refused.status_code == 403
    assert _case(rt.engine, shipped.id).state == "shipped"


def test_a_card_page_of_another_process_acts_on_nothing(client, rt, ad, staff06):
    case = card_at(rt.engine, ad, "shipped")
    kyc = next(c for c in _cases_of(rt, case.coop_id) if c.process == "kyc")
    log_in(client, staff06)
    page = text(client.get(CASE.format(kyc.id)))
    forged = _post(
        client,
        f"{RETURN.format(kyc.id)}/enregistrer",
        "card_return",
        page,
        kyc.version,
        received_on="2026-09-07",
    )
    assert NOT_OFFERED in _shown(client, forged)
    assert _case(rt.engine, kyc.id).version == kyc.version
    assert _events(rt.engine, kyc.id, "record_return") == []


def _cases_of(rt: Any, coop_id: int) -> list[Case]:
    with rt.engine.db.read() as session:
        found = list(session.scalars(select(Case).where(Case.coop_id == coop_id)))
        for case in found:
            session.expunge(case)
        return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_card_pages_are_in_french_typography(client, rt, ad, staff06):
    from tests.test_typography import WRONG_WORDING, assert_french, read

    requested = card_at(rt.engine, ad, "requested")
    shipped = card_at(rt.engine, ad, "shipped")
    returned = card_at(rt.engine, ad, "returned_to_ad")
    log_in(client, staff06)
    for path in (
        ADDRESS.format(requested.id),
        RETURN.format(shipped.id),
        RETURNED.format(returned.id),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_french(path, read(response.get_data(as_text=True)), WRONG_WORDING)
