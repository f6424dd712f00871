"""Loading the ADs' price lists from CSV: a good file (BOM, « ; » or « , »), each kind
of bad line with its number and its French reason, the file-level refusals that write
nothing, the upsert (reloading changes nothing, an item left out of the file stays),
and ``coopflow import-price-lists`` at the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from coopflow.app import create_app
from coopflow.cli import main
from coopflow.runtime import build_runtime
from tests import factories
from workflows.models import PriceItem
from workflows.processes.affiliation.price_import import (
    import_price_lists,
    parse_price_lists,
)

NOW = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)
HEADER = "ad;annee;code;type;libelle;prix;part_federation;ordre\n"
GOOD = HEADER + (
    "AD06;2026-2027;forfait;forfait;de la coopérative (forfait);8,00;8,00;1\n"
    "AD06;2026-2027;eleve;eleve;des élèves;1,73;0,93;2\n"
    "AD06;2026-2027;enseignant;enseignant;des enseignants;4;4;3\n"
    "AD06;2026-2027;assurance_biens;assurance;Assurance des biens de la coopérative;12,50;;4\n"
    "AD06;2026-2027;abonnement_toto;abonnement;Abonnement à TOTO est content;4.00;;5\n"
    "AD06;2026;abonnement_coopains;abonnement;Abonnement « Les Coopains d'accord »;6,00;;6\n"
)


def _load(db, content: str | bytes, *, by: str = "import tarifs.csv", now=NOW, allowed=None):
    raw = content.encode() if isinstance(content, str) else content
    with db.write() as session:
        return import_price_lists(session, raw, by=by, now=now, allowed=allowed)


def _items(db, ad_id: int, year: int = 2026) -> dict[str, PriceItem]:
    with db.read() as session:
        rows = session.scalars(
            select(PriceItem).where(PriceItem.ad_id == ad_id, PriceItem.school_year == year)
        )
        return {p.code: p for p in rows}


def test_a_good_file_creates_each_item_in_exact_cents(db, ad):
    report = _load(db, "\ufeff" + GOOD)
    assert report.summary() == "6 tarifs créés, 0 mis à jour, 0 inchangé, 0 ligne en erreur"
    items = _items(db, ad.id)
    assert {c: (p.kind, p.price_cents, p.federation_share_cents) for c, p in items.items()} == {
        "forfait": ("forfait", 800, 800),
        "eleve": ("eleve", 173, 93),
        "enseignant": ("enseignant", 400, 400),
        "assurance_biens": ("assurance", 1250, None),
        "abonnement_toto": ("abonnement", 400, None),
        "abonnement_coopains": ("abonnement", 600, None),
    }
    assert all(type(p.price_cents) is int for p in items.values())
    assert items["abonnement_coopains"].label == "Abonnement « Les Coopains d'accord »"
    assert [p.code for p in sorted(items.values(), key=lambda p: p.position)][:3] == [
        "forfait",
        "eleve",
        "enseignant",
    ]
    assert {p.updated_by for p in items.values()} == {"import tarifs.csv"}
    assert {p.updated_at for p in items.values()} == {NOW}


def test_commas_separate_and_headers_match_without_case_nor_accents(db, ad):
    content = (
        "AD,Année,Code,Type,Libellé,Prix,Part_Fédération,Ordre\r\n"
        'ad06,2026/2027,forfait,Forfait,"Forfait, par coopérative","8,00",,\r\n'
        'AD06,2026-2027,eleve,élève,des élèves,"1,73","0,93",\r\n'
        "AD06,2026,enseignant,ENSEIGNANT,des enseignants,4.5,,\r\n"
    )
    report = _load(db, content.encode("utf-8-sig"))
    assert report.errors == [] and report.created == 3
    items = _items(db, ad.id)
    assert items["forfait"].label == "Forfait, par coopérative"
    assert (items["eleve"].price_cents, items["eleve"].federation_share_cents) == (173, 93)
    assert items["enseignant"].price_cents == 450
    # Without « ordre », each new item goes after the list's last one.
    assert [items[c].position for c in ("forfait", "eleve", "enseignant")] == [1, 2, 3]


BAD_LINES = [
    ("AD99;2026-2027;forfait;forfait;Forfait;8,00;;", "AD inconnue : « AD99 »"),
    (";2026-2027;forfait;forfait;Forfait;8,00;;", "AD manquante"),
    (
        "AD06;2026-2028;forfait;forfait;Forfait;8,00;;",
        "Année scolaire « 2026-2028 » invalide (par exemple 2026-2027 ou 2026)",
    ),
    (
        "AD06;26;forfait;forfait;Forfait;8,00;;",
        "Année scolaire « 26 » invalide (par exemple 2026-2027 ou 2026)",
    ),
    (
        "AD06;1999;forfait;forfait;Forfait;8,00;;",
        "Année scolaire « 1999 » hors des années 2000 à 2099",
    ),
    ("AD06;;forfait;forfait;Forfait;8,00;;", "Année scolaire manquante"),
    (
        "AD06;2026-2027;forfait;option;Forfait;8,00;;",
        "Type « option » invalide (forfait, eleve, enseignant, assurance ou abonnement)",
    ),
    (
        "AD06;2026-2027;abo-toto;abonnement;TOTO;4,00;;",
        "Code « abo-toto » invalide (lettres minuscules sans accent, chiffres et « _ », "
        "40 caractères au plus)",
    ),
    ("AD06;2026-2027;;abonnement;TOTO;4,00;;", "Code manquant"),
    ("AD06;2026-2027;toto;abonnement;;4,00;;", "Libellé manquant"),
    (
        f"AD06;2026-2027;toto;abonnement;{'x' * 201};4,00;;",
        "Libellé trop long (200 caractères au plus)",
    ),
    (
        "AD06;2026-2027;eleve;eleve;des élèves;1,7a;;",
        "Prix « 1,7a » invalide (un montant en euros, par exemple 1,73)",
    ),
    (
        "AD06;2026-2027;eleve;eleve;des élèves;-1,73;;",
        "Prix « -1,73 » invalide (un montant en euros, par exemple 1,73)",
    ),
    (
        "AD06;2026-2027;eleve;eleve;des élèves;1,735;;",
        "Prix « 1,735 » invalide (un montant en euros, par exemple 1,73)",
    ),
    (
        "AD06;2026-2027;eleve;eleve;des élèves;١,٧٣;;",
        "Prix « ١,٧٣ » invalide (un montant en euros, par exemple 1,73)",
    ),
    ("AD06;2026-2027;eleve;eleve;des élèves;;;", "Prix manquant"),
    (
        "AD06;2026-2027;eleve;eleve;des élèves;10000,01;;",
        "Prix : 10\u202f000,00\u00a0€ au plus",
    ),
    (
        "AD06;2026-2027;eleve;eleve;des élèves;1,73;2,00;",
        "Part de la fédération (2,00\u00a0€) supérieure au prix (1,73\u00a0€)",
    ),
    (
        "AD06;2026-2027;eleve;eleve;des élèves;1,73;un euro;",
        "Part de la fédération « un euro » invalide (un montant en euros, par exemple 1,73)",
    ),
    (
        "AD06;2026-2027;eleve;eleve;des élèves;1,73;;premier",
        "Ordre « premier » invalide (un nombre entier de 0 à 9999)",
    ),
    (
        "AD06;2026-2027;eleve;eleve;des élèves;1,73;;;en trop",
        "La ligne a plus de cellules que l'en-tête : une valeur contient sans doute le "
        "séparateur (« ; » ou « , ») sans guillemets",
    ),
    (
        "AD99;2026-2028;Toto;x;;abc;;",
        "AD inconnue : « AD99 » ; année scolaire « 2026-2028 » invalide (par exemple "
        "2026-2027 ou 2026) ; type « x » invalide (forfait, eleve, enseignant, assurance ou "
        "abonnement) ; libellé manquant ; prix « abc » invalide (un montant en euros, par "
        "exemple 1,73)",
    ),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES, ids=[m[:40] for _, m in BAD_LINES])
def test_each_bad_line_is_reported_with_its_number_in_french(line, message):
    content = HEADER + "AD06;2026-2027;forfait_ok;abonnement;Bon;1,00;;\n\n" + line + "\n"
    parsed = parse_price_lists(content.encode(), {"AD06": 1, "AD50": 2})
    assert [str(e) for e in parsed.errors] == [f"Ligne 4 : {message}"]  # the blank line counts
    assert [r.item.code for r in parsed.rows] == ["forfait_ok"]


def test_the_same_code_twice_in_a_years_list_is_refused_on_the_second_line():
    content = HEADER + (
        "AD06;2026-2027;toto;abonnement;TOTO;4,00;;\n"
        "AD06;2026-2027;toto;abonnement;TOTO bis;5,00;;\n"
        "AD06;2027-2028;toto;abonnement;TOTO l'an suivant;4,00;;\n"
        "AD50;2026-2027;toto;abonnement;TOTO en Manche;4,00;;\n"
    )
    parsed = parse_price_lists(content.encode(), {"AD06": 1, "AD50": 2})
    assert [str(e) for e in parsed.errors] == [
        "Ligne 3 : Code « toto » déjà présent ligne 2 pour l'AD06 2026-2027"
    ]
    assert [(r.line, r.school_year, r.ad_code) for r in parsed.rows] == [
        (2, 2026, "AD06"),
        (4, 2027, "AD06"),
        (5, 2026, "AD50"),
    ]


def test_an_ad_outside_the_importers_scope_is_refused():
    content = HEADER + "AD50;2026;forfait;forfait;Forfait;8,00;;\n"
    parsed = parse_price_lists(content.encode(), {"AD06": 1, "AD50": 2}, frozenset({1}))
    assert [str(e) for e in parsed.errors] == ["Ligne 2 : L'AD50 n'est pas dans votre périmètre"]


def test_a_list_has_one_flat_fee_one_price_per_pupil_one_per_teacher(db, ad):
    _load(db, HEADER + "AD06;2026;forfait;forfait;Forfait;8,00;;\n")
    report = _load(
        db,
        HEADER
        + (
            "AD06;2026;forfait_bis;forfait;Autre forfait;9,00;;\n"
            "AD06;2026;eleve;eleve;des élèves;1,73;;\n"
            "AD06;2026;eleve_bis;eleve;encore des élèves;1,80;;\n"
            "AD06;2027;forfait_bis;forfait;Forfait de l'an suivant;9,00;;\n"
        ),
    )
    assert [str(e) for e in report.errors] == [
        "Ligne 2 : La liste de l'AD06 pour 2026-2027 a déjà un forfait (« forfait », "
        "déjà enregistré)",
        "Ligne 4 : La liste de l'AD06 pour 2026-2027 a déjà un prix par élève (« eleve », ligne 3)",
    ]
    assert report.created == 2
    assert set(_items(db, ad.id)) == {"forfait", "eleve"}
    assert set(_items(db, ad.id, 2027)) == {"forfait_bis"}


def test_an_item_changing_kind_frees_its_kind_for_another_code(db, ad):
    _load(db, HEADER + "AD06;2026;forfait;forfait;Forfait;8,00;;\n")
    report = _load(
        db,
        HEADER
        + (
            "AD06;2026;forfait_2026;forfait;Forfait 2026;8,50;;\n"
            "AD06;2026;forfait;abonnement;Ancien forfait devenu abonnement;8,00;;\n"
        ),
    )
    assert report.errors == [] and (report.created, report.updated) == (1, 1)
    assert {c: p.kind for c, p in _items(db, ad.id).items()} == {
        "forfait": "abonnement",
        "forfait_2026": "forfait",
    }


def test_good_lines_are_written_and_bad_ones_reported_like_the_coops_import(db, ad):
    content = GOOD + "AD06;2026-2027;assurance_vol;assurance;Vol;1,7a;;\n"
    report = _load(db, content)
    assert report.summary() == "6 tarifs créés, 0 mis à jour, 0 inchangé, 1 ligne en erreur"
    assert [e.line for e in report.errors] == [8]
    assert "assurance_vol" not in _items(db, ad.id)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (GOOD.encode("latin-1", errors="replace"), "Le fichier n'est pas encodé en UTF-8."),
        (b"", "Le fichier est vide."),
        (HEADER.encode(), "Le fichier ne contient aucune ligne de tarif."),
        (
            GOOD.replace(";prix;", ";tarif;").encode(),
            "La colonne obligatoire « prix » est absente du fichier.",
        ),
    ],
    ids=["latin-1", "empty", "header only", "no prix column"],
)
def test_a_refused_file_writes_nothing(db, ad, content, message):
    report = _load(db, content)
    assert report.file_errors and report.file_errors[0].startswith(message)
    assert report.summary().startswith("Fichier refusé, rien n'a été importé : ")
    assert _items(db, ad.id) == {}


def test_reloading_the_same_file_changes_nothing_and_a_change_updates_one_item(db, ad):
    _load(db, GOOD)
    again = _load(db, GOOD, by="import encore.csv", now=NOW + timedelta(days=1))
    assert again.summary() == "0 tarif créé, 0 mis à jour, 6 inchangés, 0 ligne en erreur"
    items = _items(db, ad.id)
    assert {p.updated_by for p in items.values()} == {"import tarifs.csv"}
    assert {p.updated_at for p in items.values()} == {NOW}

    later = NOW + timedelta(days=2)
    changed = HEADER + "AD06;2026;eleve;eleve;des élèves;1,80;;\n"
    report = _load(db, changed, by="import hausse.csv", now=later)
    assert report.summary() == "0 tarif créé, 1 mis à jour, 0 inchangé, 0 ligne en erreur"
    items = _items(db, ad.id)
    assert len(items) == 6  # the items the file leaves out stay as they are
    pupil = items["eleve"]
    assert (pupil.price_cents, pupil.federation_share_cents) == (180, None)
    assert pupil.position == 2  # without « ordre », an item keeps its place
    assert (pupil.updated_by, pupil.updated_at) == ("import hausse.csv", later)
    assert items["forfait"].updated_by == "import tarifs.csv"


# The command line ---------------------------------------------------------------------


@pytest.fixture
def cli_app(settings, clock):
    app = create_app(settings, runtime=build_runtime(settings, clock=clock))
    yield app
    app.extensions["coopflow"].stop()


def test_the_command_loads_a_file_and_fails_in_french_on_bad_lines(cli_app, db, ad, tmp_path: Path):
    factories.ADFactory(code="AD50", academic_domains=["ac-normandie.fr"])
    runner = cli_app.test_cli_runner()
    path = tmp_path / "tarifs.csv"
    path.write_bytes(("\ufeff" + GOOD).encode())
    done = runner.invoke(main, ["import-price-lists", str(path)])
    assert done.exit_code == 0, done.output
    assert "6 tarifs créés, 0 mis à jour, 0 inchangé, 0 ligne en erreur" in done.stdout
    assert {p.updated_by for p in _items(db, ad.id).values()} == {"import tarifs.csv"}

    bad = tmp_path / "tarifs-2027.csv"
    bad.write_text(
        HEADER
        + "AD50;2027-2028;forfait;forfait;Forfait;7,00;;\nAD50;2027-2028;eleve;élève;Élèves;1,7;;\n"
        + "AD77;2027-2028;forfait;forfait;Forfait;7,00;;\n",
        encoding="utf-8",
    )
    refused = runner.invoke(main, ["import-price-lists", str(bad)])
    assert refused.exit_code == 1
    assert "Ligne 4 : AD inconnue : « AD77 »" in refused.stderr
    assert "2 tarifs créés, 0 mis à jour, 0 inchangé, 1 ligne en erreur" in refused.stdout

    empty = tmp_path / "vide.csv"
    empty.write_bytes(b"")
    nothing = runner.invoke(main, ["import-price-lists", str(empty)])
    assert nothing.exit_code == 1
    assert "Fichier refusé : Le fichier est vide." in nothing.stderr
