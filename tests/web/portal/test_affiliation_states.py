"""« Affiliation de l'année » once sent: the fee frozen (a later price never alters it),
the form no longer editable (409), nothing sent without a class or before the AD's
prices are published, another coop's case never reached; sent back with the staff's
comment and sent again, late yet still usable, the classes carried over to check, the
papers' checks, the validated affiliation's green box and its attestations."""

from __future__ import annotations

import re

from sqlalchemy import update

from tests import factories
from tests.helpers import space_summary
from tests.test_typography import assert_french, read
from tests.web.conftest import PortalCoop, log_in_mandataire
from tests.web.portal import test_affiliation as form_tests
from tests.web.portal.test_affiliation import (
    PAGE,
    PRICES,
    SEED_TOTAL,
    SEND,
    SYSTEM,
    _html,
    add_prices,
    affiliation,
    classes,
    error,
    events,
    plain,
    post,
    seed_form,
    set_data,
    shown,
    submitted,
    text_of,
)
from workflows.engine.engine import Actor
from workflows.models import PriceItem

#: The form tests' fixtures: a logged-in mandataire, seed 004's prices, no step run.
coop, prices, quiet = form_tests.coop, form_tests.prices, form_tests.quiet

# --- submission -----------------------------------------------------------------------


def test_submitting_freezes_the_fee_and_a_later_price_does_not_alter_it(
    runtime, client, coop, prices, ad, quiet
):
    html = _html(client)
    assert submitted(client, html).status_code == 302
    assert submitted(client, html).status_code == 303  # a double click: the first one's answer
    case = affiliation(runtime, coop)
    assert case.state == "submitted"
    assert case.data["fee"]["total_cents"] == 13699
    reference = f"ADH-2026-{coop.affiliation_number}"
    assert case.data["reference"] == reference
    [sent] = events(runtime, case.id, "submit")
    assert sent.payload["total_cents"] == 13699 and sent.actor.startswith("mandataire")

    with runtime.db.write() as session:  # the AD raises its price per pupil afterwards
        session.execute(
            update(PriceItem)
            .where(PriceItem.ad_id == ad.id, PriceItem.code == "eleve")
            .values(price_cents=200)
        )
    html = _html(client)
    words = plain(html)
    # The commitment is being prepared: the page reloads itself until it is there.
    assert '<meta http-equiv="refresh" content="3; url=/mon-espace/adhesion">' in html
    assert "Votre engagement du mandataire est en préparation" in words
    assert SEED_TOTAL in words
    assert f"Référence à indiquer sur le paiement : {reference}" in words
    assert "Papiers à envoyer à l'OCCE 06" in words
    assert f"1. le paiement de 136,99 € (référence {reference}) en attente" in words
    assert "2. l'engagement du mandataire daté et signé en attente" in words
    assert "pas de changement" in words
    assert "Mettre à jour le montant" not in words
    assert affiliation(runtime, coop).data["fee"] == case.data["fee"]


def test_once_sent_the_form_is_not_editable(runtime, client, coop, prices, quiet):
    html = _html(client)
    submitted(client)
    before = affiliation(runtime, coop)
    for url in (PAGE, SEND):
        response = post(client, url, html=html, **seed_form(**{"classes-0-name": "CM2"}))
        assert response.status_code == 409
        words = plain(response.get_data(as_text=True))
        assert (
            "Votre adhésion est déjà envoyée à votre AD : elle ne peut plus être modifiée" in words
        )
        assert_french("409", read(response.get_data(as_text=True)))
    after = affiliation(runtime, coop)
    assert (after.data, after.version) == (before.data, before.version)


def test_nothing_is_sent_without_a_class(runtime, client, coop, prices):
    before = affiliation(runtime, coop)
    response = post(client, SEND, options=["abonnement_toto"])
    assert response.status_code == 422
    assert error(response.get_data(as_text=True), "classes") == (
        "Ajoutez au moins une classe avant d'envoyer l'adhésion."
    )
    after = affiliation(runtime, coop)
    assert (after.state, after.version) == (before.state, before.version)


def test_nothing_is_sent_before_the_prices_are_published(runtime, client, coop, ad):
    add_prices(runtime, ad.id, [p for p in PRICES if p[1] != "enseignant"])
    words = shown(client)
    missing = (
        "Les tarifs de votre AD pour l'année 2026-2027 ne sont pas encore publiés : vous "
        "pourrez envoyer l'adhésion dès qu'ils le seront."
    )
    assert missing in words and "Montant de l'adhésion :" not in words
    assert post(client, **seed_form()).status_code == 302  # saving is fine
    before = affiliation(runtime, coop)
    response = post(client, SEND, **seed_form())
    assert response.status_code == 422
    assert missing in plain(response.get_data(as_text=True))
    after = affiliation(runtime, coop)
    assert (after.state, after.data, after.version) == (before.state, before.data, before.version)


def test_another_coops_case_is_never_reached(app, runtime, client, coop, prices, make_coop):
    other = make_coop("active")
    other_client = app.test_client()
    log_in_mandataire(app, other_client, other.mandataire_id)
    post(client, **seed_form())
    mine = affiliation(runtime, coop)
    assert "CE1" not in shown(other_client)
    post(other_client, **seed_form(**classes(("GS", "Mme Loup", "1", "20"))))
    assert affiliation(runtime, coop).data == mine.data
    assert affiliation(runtime, coop).version == mine.version
    assert affiliation(runtime, other).data["form"]["classes"][0]["name"] == "GS"


# --- the other states -----------------------------------------------------------------


def _to_validation(runtime, coop: PortalCoop) -> int:
    """The submitted case brought to ``awaiting_validation`` (the commitment step may not
    have run: the engine fires its transition)."""
    case = affiliation(runtime, coop)
    if case.state == "submitted":
        with runtime.engine.transaction() as tx:
            tx.fire(case.id, "to_validation", actor=SYSTEM)
    return case.id


def test_sent_back_the_staffs_comment_is_shown_and_the_form_sent_again(
    runtime, client, coop, prices, ad, quiet
):
    submitted(client)
    case_id = _to_validation(runtime, coop)
    staff = factories.StaffFactory(ad=ad)
    comment = "Le CE2 compte 24 élèves d'après l'école : corrigez-le, s'il vous plaît."
    with runtime.engine.transaction() as tx:
        case = tx.lock(case_id)
        case.data = {**case.data, "returned_comment": comment, "checks": {}}
        tx.fire(case_id, "send_back", actor=Actor.staff(staff), payload={"comment": comment})
    html = _html(client)
    words = plain(html)
    assert "À corriger : votre AD vous a renvoyé l'adhésion" in words
    assert comment in words
    assert words.index(comment) < words.index("Nom ou niveau de la classe")
    assert "Envoyer de nouveau" in words
    assert 'name="classes-1-name" value="CE2"' in html  # the form as sent, to correct
    response = post(client, SEND, html=html, **seed_form(**{"classes-1-pupil_count": "24"}))
    assert response.status_code == 302
    case = affiliation(runtime, coop)
    assert case.state == "submitted"
    assert case.data["fee"]["total_cents"] == 13699 + 2 * 173  # 24 pupils in CE2, not 22


def test_overdue_the_form_is_still_usable(runtime, client, coop, prices, quiet):
    with runtime.engine.transaction() as tx:
        tx.fire(affiliation(runtime, coop).id, "deadline_passed", actor=SYSTEM)
    words = shown(client)
    assert "Votre coopérative pourrait être empêchée dans son fonctionnement" in words
    assert post(client, SEND, **seed_form()).status_code == 302  # a late submission
    assert affiliation(runtime, coop).state == "submitted"


def test_the_carried_classes_are_to_check(runtime, client, coop, prices):
    case = affiliation(runtime, coop)
    last_year = {
        "classes": [{"name": "CM1", "teachers": "M. Loup", "teacher_count": 1, "pupil_count": 26}]
    }
    set_data(
        runtime,
        case.id,
        form={**last_year, "options": [], "voluntary_cents": 0, "change": None},
        carried_from=case.id,
    )
    html = _html(client)
    assert "Classes reprises de l'an dernier : vérifiez-les" in plain(html)
    assert 'name="classes-0-name" value="CM1"' in html


def test_the_checks_and_the_validated_affiliation(runtime, client, coop, prices, quiet):
    submitted(client)
    case_id = _to_validation(runtime, coop)
    set_data(runtime, case_id, checks={"payment": {"by": "staff:1", "at": "2026-09-20"}})
    words = shown(client)
    assert "(référence ADH-2026-" in words
    assert re.search(r"1\. le paiement de 136,99 € \(référence \S+\) validé", words)
    assert "2. l'engagement du mandataire daté et signé en attente" in words
    assert "de signataires pas de changement" in words
    with runtime.engine.transaction() as tx:
        case = tx.lock(case_id)
        case.data = {
            **case.data,
            "checks": {**case.data["checks"], "commitment": {"by": "staff:1"}},
        }
        tx.fire(case_id, "validate", actor=SYSTEM)
    words = shown(client)
    assert "Terminé : votre coopérative est adhérente" in words
    assert "L'OCCE 06 a bien reçu le paiement de 136,99 € et les autres papiers." in words
    assert (
        f"La Coopérative Scolaire {coop.affiliation_number} ({coop.name}) est bien adhérente "
        "de l'OCCE 06 pour l'année scolaire 2026-2027."
    ) in words
    assert "2. l'engagement du mandataire daté et signé validé" in words
    assert "Vos attestations d'adhésion et d'assurance sont en préparation" in words

    # The attestations, as render_attestations stores them: linked in the green box.
    with runtime.db.write() as session:
        for kind, title in (
            ("attestation_adhesion", "Attestation d'adhésion 2026-2027"),
            ("attestation_assurance", "Attestation d'assurance 2026-2027"),
        ):
            document = space_summary(f"test:{kind}", case_id, coop.coop_id, title=title)
            document.kind = kind
            session.add(document)
    html = _html(client)
    box = html.split('id="adherente"', 1)[1].split("</div>", 1)[0]
    links = re.findall(r'<a href="(/mon-espace/documents/\d+)[^"]*"[^>]*>([^<]+)</a>', box)
    assert [text_of(title) for _, title in links] == [
        "Attestation d'adhésion 2026-2027",
        "Attestation d'assurance 2026-2027",
    ]
    for url, _ in links:
        assert client.get(url).status_code == 200
    assert '<meta http-equiv="refresh"' not in html  # nothing more to wait for
