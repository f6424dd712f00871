"""« Affiliation de l'année »: the mandataire's form (classes added, edited, removed;
options, voluntary participation, a change of mandataire or signatories), the fee
recomputed by « Mettre à jour le montant » exactly as seed 004 (136,99 €), bad input
refused in French next to its field with nothing stored, the submission freezing the
fee, the case no longer editable once sent, the staff's comment when sent back, the
late and validated pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import case_of, csrf_token
from tests.test_typography import assert_french, read
from tests.web.conftest import PortalCoop, form_value, log_in_mandataire
from workflows.engine.engine import Actor
from workflows.models import Case, CaseEvent, PriceItem

PAGE = "/mon-espace/adhesion"
SEND = "/mon-espace/adhesion/envoyer"
SYSTEM = Actor.system("test")
SEED_TOTAL = "Montant de l'adhésion : 136,99 €"
#: Seed 004's price list (an AD's, for 2026-2027), in its order.
PRICES = (
    ("forfait", "forfait", "Adhésion de la coopérative (forfait)", 800),
    ("eleve", "eleve", "Adhésion des élèves", 173),
    ("enseignant", "enseignant", "Adhésion des enseignants", 400),
    ("assurance_biens", "assurance", "Assurance des biens de la coopérative", 1500),
    ("abonnement_toto", "abonnement", "Abonnement à TOTO est content", 400),
    ("abonnement_coopains", "abonnement", "Abonnement « Les Coopains d'accord »", 600),
)
#: Seed 004's three classes: 4 teachers, 63 pupils.
CE1 = ("CE1", "Mme Detruc - Mlle Machin", "2", "23")
CE2 = ("CE2", "M. Chose", "1", "22")
CP = ("CP", "M. Aymard", "1", "18")


def add_prices(runtime: Any, ad_id: int, items=PRICES, year: int = 2026) -> None:
    """An AD's price list, as rows (the import has its own tests)."""
    with runtime.db.write() as session:
        for position, (code, kind, label, cents) in enumerate(items):
            session.add(
                PriceItem(
                    ad_id=ad_id,
                    school_year=year,
                    code=code,
                    kind=kind,
                    label=label,
                    price_cents=cents,
                    position=position,
                )
            )


@pytest.fixture
def prices(runtime, ad) -> None:
    add_prices(runtime, ad.id)


@pytest.fixture
def coop(app, client, make_coop) -> PortalCoop:
    """A coop whose account is active (its affiliation of 2026-2027 open), logged in."""
    made = make_coop("active")
    log_in_mandataire(app, client, made.mandataire_id)
    return made


@pytest.fixture
def quiet(runtime, coop) -> Iterator[None]:
    """From now on the steps the cases queue are not run: the commitment's and the
    attestations' PDFs are the documents' tests'; here the engine fires what the steps
    would (``to_validation``)."""
    publisher, runtime.engine.publisher = runtime.engine.publisher, None
    yield
    runtime.engine.publisher = publisher


# --- helpers --------------------------------------------------------------------------


def _html(client) -> str:
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<h1") == 1
    assert_french(PAGE, read(html))  # « : ; ! ? » and « » that hold
    return html


def plain(html: str) -> str:
    """The page's words as a reader reads them, on one line."""
    return " ".join(re.sub(r"<[^>]+>", " ", text_of(html)).split())


def text_of(html: str) -> str:
    import html as html_module

    return html_module.unescape(html).replace("\u00a0", " ")


def shown(client) -> str:
    return plain(_html(client))


def classes(*rows: tuple[str, str, str, str], start: int = 0) -> dict[str, str]:
    fields = {}
    for i, (name, teachers, teacher_count, pupil_count) in enumerate(rows, start):
        fields.update(
            {
                f"classes-{i}-name": name,
                f"classes-{i}-teachers": teachers,
                f"classes-{i}-teacher_count": teacher_count,
                f"classes-{i}-pupil_count": pupil_count,
            }
        )
    return fields


def seed_form(**more: Any) -> dict[str, Any]:
    """Seed 004's form: its three classes and the subscription to TOTO."""
    return {**classes(CE1, CE2, CP), "options": ["abonnement_toto"], "voluntary": "", **more}


def post(client, url: str = PAGE, *, html: str | None = None, **fields: Any):
    """The form of the page as it is now (its CSRF and one-time tokens), with ``fields``
    (``None``: left out)."""
    html = html or _html(client)
    data = {
        "csrf_token": csrf_token(html),
        "submission": form_value(html, "submission"),
        "action": "envoyer" if url == SEND else "calculer",
        **fields,
    }
    return client.post(url, data={k: v for k, v in data.items() if v is not None})


def affiliation(runtime, coop: PortalCoop) -> Case:
    return case_of(runtime.engine, coop.coop_id, "affiliation")


def events(runtime, case_id: int, trigger: str) -> list[CaseEvent]:
    with runtime.db.read() as session:
        return list(
            session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id, CaseEvent.trigger == trigger)
                .order_by(CaseEvent.id)
            )
        )


def error(html: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" id="{re.escape(field)}-error">([^<]+)</p>', html)
    return text_of(found.group(1)) if found else None


def submitted(client, html: str | None = None, **fields: Any):
    """The form sent, seed 004's by default: the answer."""
    return post(client, SEND, html=html, **{**seed_form(), **fields})


def set_data(runtime, case_id: int, **data: Any) -> None:
    with runtime.engine.transaction() as tx:
        case = tx.lock(case_id)
        case.data = {**(case.data or {}), **data}


# --- the form and its fee -------------------------------------------------------------


def test_the_seeds_example_reads_136_99(runtime, client, coop, prices):
    html = _html(client)
    words = plain(html)
    assert "À faire : complétez l'adhésion de l'année" in words
    assert "Date limite : le 30/09/2026." in words
    page = text_of(html)
    for field, label in (
        ("name", "Nom ou niveau de la classe"),
        ("teachers", "Noms des enseignants"),
        ("teacher_count", "Nombre d'enseignants"),
        ("pupil_count", "Nombre d'élèves"),
    ):
        assert f'<label for="classes-0-{field}">{label}</label>' in page
    assert "Abonnement à TOTO est content (4,00 €)" in words
    assert "Montant de l'adhésion : 8,00 €" in words  # no class yet: the flat fee
    assert "<script" not in html

    response = post(client, html=html, **seed_form())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/mon-espace/adhesion#montant")
    words = shown(client)
    assert SEED_TOTAL in words
    assert "Adhésion enregistrée. Montant de l'adhésion : 136,99 €." in words
    for line in (
        "Adhésion de la coopérative (forfait) 8,00 €",
        "Adhésion des élèves (63 × 1,73 €) 108,99 €",
        "Adhésion des enseignants (4 × 4,00 €) 16,00 €",
        "Abonnement à TOTO est content 4,00 €",
    ):
        assert line in words
    assert "Total : 3 classes, 4 enseignants et 63 élèves (67 personnes)." in words

    case = affiliation(runtime, coop)
    assert case.state == "draft"
    assert case.data["form"]["classes"][0] == {
        "name": "CE1",
        "teachers": "Mme Detruc - Mlle Machin",
        "teacher_count": 2,
        "pupil_count": 23,
    }
    assert case.data["form"]["options"] == ["abonnement_toto"]
    assert "fee" not in case.data  # recomputed on display, frozen only by « Envoyer »
    [saved] = events(runtime, case.id, "save")
    assert saved.actor.startswith("mandataire")
    assert saved.payload == {
        "classes": 3,
        "pupils": 63,
        "teachers": 4,
        "options": ["abonnement_toto"],
        "voluntary_cents": 0,
        "change": False,
        "total_cents": 13699,
    }


def test_the_fee_follows_the_options_and_the_voluntary_participation(runtime, client, coop, prices):
    post(client, **seed_form(options=["abonnement_toto", "assurance_biens"], voluntary="12,5"))
    words = shown(client)
    assert "Montant de l'adhésion : 164,49 €" in words  # 136,99 + 15,00 + 12,50
    assert "Participation volontaire 12,50 €" in words
    assert 'name="voluntary" value="12,50"' in _html(client)
    assert affiliation(runtime, coop).data["form"]["voluntary_cents"] == 1250
    post(client, **seed_form(options=None, voluntary="1 200,00 €"))
    assert "Montant de l'adhésion : 1 332,99 €" in shown(client)


def test_a_class_is_added_edited_and_removed(runtime, client, coop, prices):
    response = post(client, action="ajouter", new_row="0", **classes(CE1))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#classes")
    html = _html(client)
    assert "Classe « CE1 » ajoutée." in plain(html)
    assert 'name="new_row" value="1"' in html  # the next empty row
    post(client, action="ajouter", new_row="1", **classes(CE1, CE2))
    post(client, action="ajouter", new_row="2", **classes(CE1, CE2, CP))
    assert "Montant de l'adhésion : 132,99 €" in shown(client)  # no option ticked

    edited = classes(CE1, ("CE2 bis", "M. Chose - Mme Truc", "2", "25"), CP)
    post(client, **edited)
    stored = affiliation(runtime, coop).data["form"]["classes"]
    assert stored[1] == {
        "name": "CE2 bis",
        "teachers": "M. Chose - Mme Truc",
        "teacher_count": 2,
        "pupil_count": 25,
    }
    assert "Montant de l'adhésion : 142,18 €" in shown(client)  # 8 + 66 × 1,73 + 5 × 4

    response = post(client, remove="0", **edited)
    assert response.status_code == 302
    assert "Classe « CE1 » supprimée." in shown(client)
    names = [c["name"] for c in affiliation(runtime, coop).data["form"]["classes"]]
    assert names == ["CE2 bis", "CP"]

    # « Ajouter la classe » with nothing typed in the new row: said, nothing stored.
    before = affiliation(runtime, coop)
    kept = classes(("CE2 bis", "M. Chose", "2", "25"), CP)
    refused = post(
        client, action="ajouter", new_row="2", **kept, **classes(("", "", "", ""), start=2)
    )
    assert refused.status_code == 422
    said = refused.get_data(as_text=True)
    assert error(said, "classes-2-name") == "Indiquez le nom ou le niveau de la classe."
    after = affiliation(runtime, coop)
    assert (after.data, after.version) == (before.data, before.version)


def test_a_blank_row_is_no_class_and_enter_recomputes(runtime, client, coop, prices):
    html = _html(client)
    # The first button of the form (the one Enter presses) recomputes, never « Supprimer ».
    first = re.search(r"<button[^>]*>", html.split('id="formulaire"', 1)[1])
    assert first and 'value="calculer"' in first.group(0)
    post(client, html=html, **classes(CE1, ("", "  ", "", ""), CP))
    names = [c["name"] for c in affiliation(runtime, coop).data["form"]["classes"]]
    assert names == ["CE1", "CP"]


BAD = [
    (
        "classes-0-pupil_count",
        "abc",
        "Le nombre d'élèves doit être un nombre entier (par exemple 23).",
    ),
    (
        "classes-0-pupil_count",
        "-1",
        "Le nombre d'élèves doit être un nombre entier (par exemple 23).",
    ),
    ("classes-1-pupil_count", "61", "Le nombre d'élèves ne peut pas dépasser 60."),
    ("classes-2-pupil_count", "", "Indiquez le nombre d'élèves."),
    (
        "classes-0-teacher_count",
        "2,5",
        "Le nombre d'enseignants doit être un nombre entier (par exemple 23).",
    ),
    (
        "classes-1-teacher_count",
        "１",
        "Le nombre d'enseignants doit être un nombre entier (par exemple 23).",
    ),
    ("classes-1-name", "   ", "Indiquez le nom ou le niveau de la classe."),
    ("classes-2-name", "x" * 61, "Nom de classe trop long (60 caractères au plus)."),
    ("classes-0-pupil_count", "9" * 5000, "Le nombre d'élèves ne peut pas dépasser 60."),
    ("voluntary", "12,345", "Indiquez un montant en euros, par exemple 12,50."),
    ("voluntary", "١٢,٥٠", "Indiquez un montant en euros, par exemple 12,50."),
    ("voluntary", "-5", "Indiquez un montant en euros, par exemple 12,50."),
    ("voluntary", "10 000,01", "Le montant ne peut pas dépasser 10\u202f000,00 €."),
]


@pytest.mark.parametrize(
    ("field", "value", "message"), BAD, ids=[f"{f}={v[:8]!r}" for f, v, _ in BAD]
)
@pytest.mark.parametrize("url", [PAGE, SEND], ids=["enregistrer", "envoyer"])
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_stored(
    runtime, client, coop, prices, url, field, value, message
):
    post(client, **seed_form())
    before = affiliation(runtime, coop)
    response = post(client, url, **seed_form(**{field: value}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error(html, field) == message
    assert re.search(
        rf'<input[^>]*id="{field}"[^>]*aria-describedby="[^"]*{field}-error"[^>]*aria-invalid="true"',
        html,
    )
    assert "Rien n'a été enregistré : corrigez le champ signalé ci-dessous." in plain(html)
    assert_french("refusé", read(html))
    if value.strip() and field != "classes-2-name":
        assert f'value="{value}"' in text_of(html)  # typed again, as typed
    after = affiliation(runtime, coop)
    assert (after.state, after.data, after.version) == (before.state, before.data, before.version)


def test_a_forged_option_and_a_change_half_told_are_refused(runtime, client, coop, prices):
    before = affiliation(runtime, coop)
    response = post(client, **seed_form(options=["abonnement_toto", "abonnement_offert"]))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error(html, "options") == (
        "Cette option n'est pas proposée par votre AD pour cette année : rechargez la page "
        "et cochez une option de la liste."
    )
    assert 'id="options" aria-describedby="options-error"' in html
    response = post(
        client,
        **seed_form(
            **{
                "change-mandataire": "on",
                "change-first_name": "Léa",
                "change-email": "pas-un-email",
            }
        ),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error(html, "change-last_name") == "Indiquez le nom du nouveau mandataire."
    assert error(html, "change-email") == (
        "Indiquez l'adresse email professionnelle du nouveau mandataire."
    )
    assert "corrigez les champs signalés ci-dessous" in plain(html)
    assert 'id="change-mandataire" name="change-mandataire" value="on" checked' in html
    response = post(
        client, **seed_form(**{"change-mandataire": "on", "change-first_name": "L" * 101})
    )
    assert error(response.get_data(as_text=True), "change-first_name") == (
        "Prénom trop long (100 caractères au plus)."
    )
    response = post(client, **seed_form(**{"change-signatories": "on"}))
    assert error(response.get_data(as_text=True), "change-details") == (
        "Indiquez les nouveaux signataires du compte."
    )
    after = affiliation(runtime, coop)
    assert (after.data, after.version) == (before.data, before.version)


def test_a_change_of_mandataire_and_signatories_is_kept(runtime, client, coop, prices):
    change = {
        "change-mandataire": "on",
        "change-first_name": "Léa",
        "change-last_name": "Fontaine",
        "change-email": "Lea.Fontaine@ac-nice.fr",
        "change-signatories": "on",
        "change-details": "Mme Fontaine, directrice ; M. Aymard, enseignant.",
    }
    assert post(client, **seed_form(**change)).status_code == 302
    stored = affiliation(runtime, coop).data["form"]["change"]
    assert stored == {
        "mandataire": True,
        "signatories": True,
        "first_name": "Léa",
        "last_name": "Fontaine",
        "email": "Lea.Fontaine@ac-nice.fr",
        "details": "Mme Fontaine, directrice ; M. Aymard, enseignant.",
    }
    html = _html(client)
    assert 'id="change-signatories" name="change-signatories" value="on" checked' in html
    assert 'name="change-last_name" value="Fontaine"' in html
    # Unticked: no change any more.
    post(client, **seed_form())
    assert affiliation(runtime, coop).data["form"]["change"] is None


def test_the_csrf_token_is_required(app, runtime, client, coop, prices):
    app.config["WTF_CSRF_ENABLED"] = True
    before = affiliation(runtime, coop)
    for url in (PAGE, SEND):
        response = client.post(
            url, data=seed_form(), headers={"Referer": f"http://localhost{PAGE}"}
        )
        assert response.status_code == 302
        again = client.get(response.headers["Location"])
        assert "Ce formulaire avait expiré : rien n'a été enregistré." in plain(
            again.get_data(as_text=True)
        )
    after = affiliation(runtime, coop)
    assert (after.data, after.version) == (before.data, before.version)


def test_a_second_click_saves_once(runtime, client, coop, prices):
    html = _html(client)
    first = post(client, html=html, **seed_form())
    again = post(client, html=html, **seed_form())
    assert first.status_code == 302 and again.status_code == 303  # the first one's answer
    assert len(events(runtime, affiliation(runtime, coop).id, "save")) == 1
