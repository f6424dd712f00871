"""« Tarifs d'adhésion »: each AD's price list per school year, within the staff
member's scope; an item added, corrected or deleted with French refusals that write
nothing, who and when recorded; a CSV file loaded from the page."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.admin.conftest import csrf_token, log_in, text
from workflows.models import PriceItem

NOW = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)


def _add(db, ad, code: str, kind: str, label: str, cents: int, year: int = 2026, **more):
    with db.write() as session:
        item = PriceItem(
            ad_id=ad.id,
            school_year=year,
            code=code,
            kind=kind,
            label=label,
            price_cents=cents,
            position=more.pop("position", 1),
            updated_at=NOW,
            updated_by="import tarifs.csv",
            **more,
        )
        session.add(item)
        session.flush()
        return item.id


@pytest.fixture
def lists(rt, ad, ad50):
    """AD06's seed list for 2026-2027 and one item of AD50's."""
    db = rt.db
    ids = {
        "forfait": _add(db, ad, "forfait", "forfait", "de la coopérative (forfait)", 800),
        "eleve": _add(db, ad, "eleve", "eleve", "des élèves", 173, position=2),
        "toto": _add(db, ad, "toto", "abonnement", "Abonnement à TOTO est content", 400),
        "manche": _add(db, ad50, "forfait", "forfait", "Forfait de la Manche", 950),
    }
    return ids


def _items(rt, ad_id: int, year: int = 2026) -> dict[str, PriceItem]:
    with rt.db.read() as session:
        rows = session.scalars(
            select(PriceItem).where(PriceItem.ad_id == ad_id, PriceItem.school_year == year)
        )
        return {p.code: p for p in rows}


def _form(page: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf_token(page), **fields}


def test_ad_staff_see_their_ads_list_only(client, ad, ad50, staff06, lists):
    log_in(client, staff06)
    page = client.get("/admin/tarifs/?annee=2026")
    shown = text(page)
    assert page.status_code == 200
    assert "Tarifs de l'AD06 pour 2026-2027" in shown
    assert "des élèves" in shown and "1,73 €" in shown and "8,00 €" in shown
    assert "Abonnement à TOTO est content" in shown
    assert "AD50" not in shown and "Forfait de la Manche" not in shown
    assert "Liste incomplète : il manque un prix par enseignant." in shown
    # Another AD's list, or item, is as if it did not exist.
    assert client.get(f"/admin/tarifs/?ad={ad50.id}").status_code == 404
    assert client.get(f"/admin/tarifs/{lists['manche']}/modifier").status_code == 404
    refused = client.post(f"/admin/tarifs/{lists['manche']}/supprimer", data=_form(shown))
    assert refused.status_code == 404
    assert "forfait" in _items(client.application.extensions["coopflow"], ad50.id)


def test_national_staff_see_every_ad(client, ad, ad50, national, lists):
    log_in(client, national)
    shown = text(client.get(f"/admin/tarifs/?ad={ad50.id}&annee=2026"))
    assert "Tarifs de l'AD50 pour 2026-2027" in shown and "Forfait de la Manche" in shown
    assert "9,50 €" in shown and "AD06 · " in shown  # AD06 offered in the choice
    assert "Forfait de la Manche" not in text(client.get(f"/admin/tarifs/?ad={ad.id}&annee=2026"))


def test_read_only_accounts_read_without_changing(client, rt, ad, readonly06, lists):
    log_in(client, readonly06)
    shown = text(client.get("/admin/tarifs/?annee=2026"))
    assert "des élèves" in shown
    assert "Ajouter un tarif" not in shown and "Importer des tarifs" not in shown
    assert client.get(f"/admin/tarifs/{lists['eleve']}/modifier").status_code == 403
    assert client.get("/admin/tarifs/ajouter").status_code == 403
    token = _form(client.get("/admin/tarifs/").get_data(as_text=True))
    assert client.post(f"/admin/tarifs/{lists['eleve']}/supprimer", data=token).status_code == 403
    assert "eleve" in _items(rt, ad.id)


def test_adding_an_item_records_who_and_when(client, rt, ad, staff06, lists, clock):
    log_in(client, staff06)
    url = f"/admin/tarifs/ajouter?ad={ad.id}&annee=2026"
    page = text(client.get(url))
    before = clock.now()
    done = client.post(
        url,
        data=_form(
            page,
            code="enseignant",
            kind="enseignant",
            label="des enseignants",
            price="4,00",
            federation_share="",
            position="",
        ),
    )
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/admin/tarifs/?ad={ad.id}&annee=2026")
    item = _items(rt, ad.id)["enseignant"]
    assert (item.kind, item.price_cents, item.federation_share_cents) == ("enseignant", 400, None)
    assert item.position == 3  # after the list's last one
    assert item.updated_by == staff06.email and before <= item.updated_at <= clock.now()
    shown = text(client.get(done.headers["Location"]))
    assert "Tarif « des enseignants » enregistré." in shown
    assert "Liste incomplète" not in shown


@pytest.mark.parametrize(
    ("fields", "field_error"),
    [
        ({"price": "1,7a"}, "Prix « 1,7a » invalide (un montant en euros, par exemple 1,73)."),
        ({"price": "1.234,50"}, "Prix « 1.234,50 » invalide (un montant en euros, par exemple"),
        ({"price": ""}, "Prix manquant."),
        ({"price": "-4"}, "Prix « -4 » invalide"),
        ({"price": "12000"}, "Prix : 10\u202f000,00 € au plus."),
        ({"federation_share": "5,00"}, "Part de la fédération (5,00 €) supérieure au prix"),
        ({"code": "Abo TOTO!"}, "Code « abototo! » invalide"),
        ({"code": "toto"}, "Le code « toto » est déjà dans la liste de l'AD06."),
        ({"kind": "option"}, "Type « option » invalide"),
        (
            {"kind": "forfait"},
            "La liste de l'AD06 pour 2026-2027 a déjà un forfait (« forfait », déjà enregistré).",
        ),
        ({"label": " "}, "Libellé manquant."),
        ({"position": "deux"}, "Ordre « deux » invalide (un nombre entier de 0 à 9999)."),
    ],
)
def test_a_bad_item_is_refused_in_french_and_nothing_is_stored(
    client, rt, ad, staff06, lists, fields, field_error
):
    log_in(client, staff06)
    url = f"/admin/tarifs/ajouter?ad={ad.id}&annee=2026"
    page = text(client.get(url))
    data = {
        "code": "enseignant",
        "kind": "enseignant",
        "label": "des enseignants",
        "price": "4,00",
        "federation_share": "",
        "position": "",
        **fields,
    }
    refused = client.post(url, data=_form(page, **data))
    assert refused.status_code == 422
    assert field_error in text(refused)
    assert set(_items(rt, ad.id)) == {"forfait", "eleve", "toto"}


def test_correcting_a_price_keeps_its_code_and_records_who(client, rt, ad, staff06, lists, clock):
    log_in(client, staff06)
    url = f"/admin/tarifs/{lists['eleve']}/modifier"
    page = text(client.get(url))
    assert 'value="1,73"' in page and 'value="eleve"' in page
    bad = client.post(
        url,
        data=_form(page, code="eleve", kind="eleve", label="des élèves", price="1,7.3"),
    )
    assert bad.status_code == 422 and "Prix « 1,7.3 » invalide" in text(bad)
    before = clock.now()
    assert _items(rt, ad.id)["eleve"].price_cents == 173
    assert _items(rt, ad.id)["eleve"].updated_by == "import tarifs.csv"

    done = client.post(
        url,
        data=_form(
            page,
            code="autre_code",  # the code is read-only: a forged one is ignored
            kind="eleve",
            label="des élèves",
            price="1,80",
            federation_share="0,90",
            position="2",
        ),
    )
    assert done.status_code == 302
    items = _items(rt, ad.id)
    assert "autre_code" not in items
    pupil = items["eleve"]
    assert (pupil.price_cents, pupil.federation_share_cents) == (180, 90)
    assert pupil.updated_by == staff06.email and before <= pupil.updated_at <= clock.now()


def test_deleting_an_item(client, rt, ad, staff06, lists):
    log_in(client, staff06)
    page = text(client.get(f"/admin/tarifs/{lists['toto']}/modifier"))
    done = client.post(f"/admin/tarifs/{lists['toto']}/supprimer", data=_form(page))
    assert done.status_code == 302
    assert set(_items(rt, ad.id)) == {"forfait", "eleve"}
    assert "Tarif « Abonnement à TOTO est content » supprimé" in text(
        client.get(done.headers["Location"])
    )


CSV = (
    "\ufeffad;annee;code;type;libelle;prix;part_federation;ordre\n"
    "AD06;2026-2027;enseignant;enseignant;des enseignants;4,00;;3\n"
    "AD06;2026-2027;eleve;eleve;des élèves;1,75;;\n"
    "AD50;2026-2027;eleve;eleve;Élèves de la Manche;1,50;;\n"
    "AD06;2026-2027;assurance;assurance;Assurance;3,5x;;\n"
)


def _upload(client, content: str | bytes, name: str = "tarifs.csv"):
    page = text(client.get("/admin/tarifs/"))
    raw = content.encode() if isinstance(content, str) else content
    return client.post(
        "/admin/tarifs/importer",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(raw), name, "text/csv")},
        content_type="multipart/form-data",
    )


def test_uploading_a_file_loads_the_staff_members_ad_only(client, rt, ad, ad50, staff06, lists):
    log_in(client, staff06)
    done = _upload(client, CSV)
    shown = text(done)
    assert done.status_code == 200
    assert "1 tarif créé, 1 mis à jour, 0 inchangé, 2 lignes en erreur" in shown
    assert "Ligne 4 : L'AD50 n'est pas dans votre périmètre" in shown
    assert "Ligne 5 : Prix « 3,5x » invalide" in shown
    items = _items(rt, ad.id)
    assert items["eleve"].price_cents == 175 and items["enseignant"].price_cents == 400
    assert items["eleve"].updated_by == f"import tarifs.csv ({staff06.email})"
    assert set(_items(rt, ad50.id)) == {"forfait"}

    again = text(_upload(client, CSV))
    assert "0 tarif créé, 0 mis à jour, 2 inchangés, 2 lignes en erreur" in again


def test_a_refused_upload_writes_nothing(client, rt, ad, staff06, lists):
    log_in(client, staff06)
    not_csv = _upload(client, CSV, name="tarifs.xlsx")
    assert not_csv.status_code == 302
    assert "Le fichier doit être au format CSV" in text(client.get(not_csv.headers["Location"]))
    refused = _upload(client, CSV.replace("prix", "montant"))
    assert refused.status_code == 422
    assert "Fichier refusé, rien n'a été importé" in text(refused)
    assert "La colonne obligatoire « prix » est absente du fichier." in text(refused)
    assert _items(rt, ad.id)["eleve"].price_cents == 173


def test_national_staff_upload_for_every_ad(client, rt, ad, ad50, national, lists):
    log_in(client, national)
    shown = text(_upload(client, CSV))
    assert "2 tarifs créés, 1 mis à jour, 0 inchangé, 1 ligne en erreur" in shown
    assert _items(rt, ad50.id)["eleve"].label == "Élèves de la Manche"


def test_the_pages_are_in_french_typography(client, ad, staff06, lists):
    from tests.test_typography import WRONG_WORDING, assert_french, read

    log_in(client, staff06)
    for url in (
        "/admin/tarifs/?annee=2026",
        "/admin/tarifs/?annee=2030",
        f"/admin/tarifs/ajouter?ad={ad.id}&annee=2026",
        f"/admin/tarifs/{lists['toto']}/modifier",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert_french(url, read(page.get_data(as_text=True)), WRONG_WORDING)
    page = client.get(f"/admin/tarifs/{lists['toto']}/modifier").get_data(as_text=True)
    refused = client.post(
        f"/admin/tarifs/{lists['toto']}/modifier",
        data=_form(page, kind="forfait", label="TOTO ?", price="x"),
    )
    assert_french("tarif refusé", read(refused.get_data(as_text=True)), WRONG_WORDING)
    assert_french("rapport", read(_upload(client, CSV).get_data(as_text=True)), WRONG_WORDING)
