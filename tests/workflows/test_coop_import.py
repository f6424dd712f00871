"""Importing an AD's cooperatives from CSV: the file checks alone, then the import on a database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.factories import ADFactory, MandataireFactory
from workflows.coop_import import ImportReport, RowError, import_coops, parse_coops
from workflows.engine.engine import Actor
from workflows.models import AD, Case, CaseEvent, Coop, Mandataire, Step

STAFF = Actor("staff", 1, "Claire Agent")
AD06 = AD(code="AD06", name="OCCE 06", email="ad06@occe.coop", academic_domains=["ac-nice.fr"])
HEADER = [
    "numero_affiliation",
    "nom_cooperative",
    "ecole",
    "adresse",
    "code_postal",
    "commune",
    "email_ecole",
    "prenom_mandataire",
    "nom_mandataire",
    "email_mandataire",
]


def line(n: int = 1, **changes: str) -> list[str]:
    """A good row for coop number ``n``; ``changes`` replace cells by header name."""
    cells = {
        "numero_affiliation": f"06{n:05d}F",
        "nom_cooperative": f"Coopérative Sainte-Thérèse {n}",
        "ecole": f"École Sainte-Thérèse {n}",
        "adresse": "3 rue Pastorelli",
        "code_postal": "06000",
        "commune": "Nice",
        "email_ecole": f"ce.06{n:05d}f@ac-nice.fr",
        "prenom_mandataire": "Hélène",
        "nom_mandataire": f"Dupré{n}",
        "email_mandataire": f"helene.dupre{n}@ac-nice.fr",
    }
    cells.update(changes)
    return [cells[h] for h in HEADER]


def csv_file(*rows: list[str], header: list[str] = HEADER, sep: str = ";") -> bytes:
    """A file as a French spreadsheet exports it: CRLF, UTF-8."""
    return "\r\n".join(sep.join(cells) for cells in (header, *rows)).encode()


def counts(engine) -> dict[str, int]:
    with engine.db.read() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (Coop, Mandataire, Case, CaseEvent, Step)
        }


def run_import(engine, ad, content: bytes, *, invite: bool = False) -> ImportReport:
    with engine.transaction() as tx:
        return import_coops(tx, ad, content, invite=invite, actor=STAFF)


# The file alone --------------------------------------------------------------------------


def test_a_semicolon_file_keeps_accents_and_normalises_values():
    content = csv_file(
        line(
            1,
            numero_affiliation=" 0210524f ",
            email_mandataire="Helene.DUPRE@AC-Nice.fr",
            code_postal="06 000",
            ecole="  École   Sainte-Thérèse ",
        )
    )
    parsed = parse_coops(content, AD06)
    assert parsed.file_errors == [] and parsed.errors == []
    [row] = parsed.rows
    assert (row.line, row.affiliation_number, row.school_name, row.postal_code) == (
        2,
        "0210524F",
        "École Sainte-Thérèse",
        "06000",
    )
    assert (row.mandataire_first_name, row.mandataire_email) == (
        "Hélène",
        "helene.dupre@ac-nice.fr",
    )


def test_a_comma_file_with_bom_and_loosely_written_headers():
    header = [
        "Numéro Affiliation",
        "NOM_COOPERATIVE",
        "École",
        "Adresse",
        "Code postal",
        "Commune",
        "E-mail école",
        "Prénom mandataire",
        "Nom mandataire",
        "email_mandataire",
        "Remarques",
    ]
    rows = [[*line(1)[:3], '"3, rue Pastorelli"', *line(1)[4:], "à rappeler"], [*line(2), ""]]
    content = b"\xef\xbb\xbf" + csv_file(*rows, header=header, sep=",")
    parsed = parse_coops(content, AD06)
    assert parsed.file_errors == [] and parsed.errors == []
    assert [(r.line, r.street) for r in parsed.rows] == [
        (2, "3, rue Pastorelli"),
        (3, "3 rue Pastorelli"),
    ]
    assert parsed.rows[0].affiliation_number == "0600001F"  # the BOM did not spoil the header


def test_a_cp1252_file_is_refused_with_the_way_to_export_it():
    parsed = parse_coops(csv_file(line(1)).decode().encode("cp1252"), AD06)
    assert parsed.rows == [] and parsed.errors == []
    [message] = parsed.file_errors
    assert "UTF-8" in message and "« CSV UTF-8 »" in message


def test_a_missing_required_column_is_named_and_refuses_the_file():
    header = [h for h in HEADER if h != "email_mandataire"]
    parsed = parse_coops(csv_file(line(1)[:-1], header=header), AD06)
    assert parsed.file_errors == [
        "La colonne obligatoire « email_mandataire » est absente du fichier."
    ]
    assert parsed.rows == []


def test_optional_columns_may_be_absent():
    header = [h for h in HEADER if h not in ("adresse", "code_postal", "commune")]
    parsed = parse_coops(
        csv_file([c for h, c in zip(HEADER, line(1), strict=True) if h in header], header=header),
        AD06,
    )
    assert parsed.file_errors == [] and parsed.rows[0].street == ""
    assert "adresse" not in parsed.columns


def test_empty_lines_are_skipped_but_keep_their_number():
    content = csv_file(line(1), line(2)).replace(b"\r\n", b"\r\n\r\n")
    parsed = parse_coops(content, AD06)
    assert [r.line for r in parsed.rows] == [3, 5]


def test_a_cell_holding_a_newline_is_one_spreadsheet_row():
    parsed = parse_coops(
        csv_file(line(1, adresse='"Bâtiment B\r\n3 rue Pastorelli"'), line(2)), AD06
    )
    assert [(r.line, r.street) for r in parsed.rows] == [
        (2, "Bâtiment B 3 rue Pastorelli"),
        (3, "3 rue Pastorelli"),
    ]


def test_a_file_without_rows_is_refused():
    assert parse_coops(csv_file(), AD06).file_errors == [
        "Le fichier ne contient aucune ligne de coopérative."
    ]
    assert parse_coops(b"", AD06).file_errors == ["Le fichier est vide."]


def test_each_bad_row_is_reported_with_its_spreadsheet_line_and_all_its_problems():
    content = csv_file(
        line(1),  # line 2
        line(2, numero_affiliation="12"),  # line 3
        [""] * len(HEADER),  # line 4: empty row
        line(3, nom_cooperative=""),  # line 5
        line(4, code_postal="6000"),  # line 6
        line(5, email_ecole="ecole-sans-arobase"),  # line 7
        line(6, email_mandataire="helene@gmail.com"),  # line 8
        line(7, numero_affiliation="AB12", email_mandataire="", nom_mandataire=""),  # line 9
        line(8),  # line 10
    )
    parsed = parse_coops(content, AD06)
    assert [r.line for r in parsed.rows] == [2, 10]
    assert [(e.line, e.message) for e in parsed.errors] == [
        (
            3,
            "Numéro d'affiliation « 12 » invalide (3 à 10 caractères : des chiffres, "
            "éventuellement suivis d'une lettre)",
        ),
        (5, "Nom de la coopérative manquant"),
        (
            6,
            "Code postal « 6000 » invalide (5 chiffres attendus ; le tableur a-t-il supprimé "
            "le 0 initial ?)",
        ),
        (7, "Email de l'école « ecole-sans-arobase » invalide"),
        (8, "L'email du mandataire doit être sur un domaine académique de l'AD06 (ac-nice.fr)"),
        (
            9,
            "Numéro d'affiliation « AB12 » invalide (3 à 10 caractères : des chiffres, "
            "éventuellement suivis d'une lettre) ; nom du mandataire manquant ; "
            "email du mandataire manquant",
        ),
    ]
    assert str(parsed.errors[1]) == "Ligne 5 : Nom de la coopérative manquant"


def test_a_repeated_affiliation_or_mandataire_email_is_an_error_on_the_later_row():
    content = csv_file(
        line(1),
        line(2),
        line(1, nom_cooperative="Autre nom"),
        line(3, email_mandataire="helene.dupre2@ac-nice.fr"),
    )
    parsed = parse_coops(content, AD06)
    assert [r.line for r in parsed.rows] == [2, 3]
    assert parsed.errors == [
        RowError(4, "Numéro d'affiliation 0600001F déjà présent ligne 2"),
        RowError(
            5,
            "L'email du mandataire helene.dupre2@ac-nice.fr est déjà utilisé ligne 3 "
            "pour une autre coopérative",
        ),
    ]


def test_summary_reads_as_french():
    errors = [RowError(2, "x"), RowError(3, "y")]
    report = ImportReport(created=12, updated=1, unchanged=3, errors=errors)
    assert (
        report.summary()
        == "12 coopératives créées, 1 mise à jour, 3 inchangées, 2 lignes en erreur"
    )
    report = ImportReport(created=1, updated=2, unchanged=0, invited=1)
    assert report.summary() == (
        "1 coopérative créée, 2 mises à jour, 0 inchangée, 0 ligne en erreur, 1 invitation envoyée"
    )


# The import on a database ----------------------------------------------------------------


def test_import_creates_coops_mandataires_and_invitation_cases(engine, ad, publisher):
    content = csv_file(line(1), line(2, code_postal="6000"), line(3))
    report = run_import(engine, ad, content)
    assert (report.created, report.updated, report.unchanged, report.invited) == (2, 0, 0, 0)
    assert [e.line for e in report.errors] == [3]
    assert (
        report.summary() == "2 coopératives créées, 0 mise à jour, 0 inchangée, 1 ligne en erreur"
    )
    with engine.db.read() as s:
        coop = s.scalars(select(Coop).where(Coop.affiliation_number == "0600001F")).one()
        assert (coop.ad_id, coop.name, coop.school_name) == (
            ad.id,
            "Coopérative Sainte-Thérèse 1",
            "École Sainte-Thérèse 1",
        )
        [mandataire] = coop.mandataires
        assert (mandataire.full_name, mandataire.email, mandataire.password_hash) == (
            "Hélène Dupré1",
            "helene.dupre1@ac-nice.fr",
            None,
        )
        case = s.scalars(select(Case).where(Case.coop_id == coop.id)).one()
        assert (case.process, case.state, case.data) == (
            "invitation",
            "created",
            {"mandataire_id": mandataire.id},
        )
        assert s.scalar(select(func.count()).select_from(Coop)) == 2
    assert publisher.ids == []


def test_a_refused_file_writes_nothing(engine, ad):
    before = counts(engine)
    report = run_import(engine, ad, csv_file(line(1), line(2)).decode().encode("cp1252"))
    assert "CSV UTF-8" in report.file_errors[0] and report.summary().startswith("Fichier refusé")
    assert counts(engine) == before == {t: 0 for t in before}


def test_importing_the_same_file_twice_changes_nothing_the_second_time(engine, ad, clock):
    content = csv_file(*(line(n) for n in range(1, 6)))
    assert run_import(engine, ad, content).created == 5
    before = counts(engine)
    with engine.db.read() as s:
        stamps = sorted(s.scalars(select(Coop.updated_at)))
    clock.advance(timedelta(hours=1))
    report = run_import(engine, ad, content)
    assert (report.created, report.updated, report.unchanged, report.errors) == (0, 0, 5, [])
    assert counts(engine) == before
    with engine.db.read() as s:
        assert sorted(s.scalars(select(Coop.updated_at))) == stamps


def test_a_changed_row_updates_the_coop_and_a_mandataire_without_account(engine, ad, clock):
    run_import(engine, ad, csv_file(line(1), line(2)))
    before = counts(engine)
    clock.advance(timedelta(hours=1))
    changed = line(
        1,
        ecole="École Marie-Curie",
        email_mandataire="jerome.leduc@ac-nice.fr",
        prenom_mandataire="Jérôme",
        nom_mandataire="Leduc",
    )
    report = run_import(engine, ad, csv_file(changed, line(2)))
    assert (report.created, report.updated, report.unchanged, report.errors) == (0, 1, 1, [])
    assert counts(engine) == before  # updated in place: no new coop, mandataire or case
    with engine.db.read() as s:
        coop = s.scalars(select(Coop).where(Coop.affiliation_number == "0600001F")).one()
        assert coop.school_name == "École Marie-Curie"
        assert coop.updated_at - coop.created_at >= timedelta(hours=1)
        [mandataire] = coop.mandataires
        assert str(mandataire) == "Jérôme Leduc <jerome.leduc@ac-nice.fr>"


def test_a_mandataire_with_an_account_is_not_replaced_by_the_file(engine, ad):
    run_import(engine, ad, csv_file(line(1)))
    with engine.db.write() as s:
        s.scalars(select(Mandataire)).one().password_hash = "argon2-hash"
    other = line(1, ecole="École Marie-Curie", email_mandataire="jerome.leduc@ac-nice.fr")
    report = run_import(engine, ad, csv_file(other))
    assert report.errors == [
        RowError(
            2,
            "Le mandataire a déjà un compte ; un changement de mandataire passe par l'affiliation",
        )
    ]
    assert (report.updated, report.unchanged) == (0, 0)
    with engine.db.read() as s:
        coop = s.scalars(select(Coop)).one()
        assert coop.school_name == "École Sainte-Thérèse 1"  # the whole row was refused
        assert coop.mandataires[0].email == "helene.dupre1@ac-nice.fr"
    # The same person, written in capitals by the spreadsheet, is not a change of mandataire.
    report = run_import(engine, ad, csv_file(line(1, nom_mandataire="DUPRE1")))
    assert (report.unchanged, report.errors) == (1, [])


def test_an_email_already_used_by_another_coop_is_refused(engine, ad):
    MandataireFactory(
        coop__ad=ad, coop__affiliation_number="0612345X", email="helene.dupre2@ac-nice.fr"
    )
    ad35 = ADFactory(code="AD35", academic_domains=["ac-rennes.fr"])
    MandataireFactory(coop__ad=ad35, email="helene.dupre3@ac-nice.fr")
    report = run_import(engine, ad, csv_file(line(1), line(2), line(3)))
    assert report.created == 1
    assert [str(e) for e in report.errors] == [
        "Ligne 3 : L'email du mandataire helene.dupre2@ac-nice.fr est déjà utilisé par "
        "la coopérative 0612345X",
        "Ligne 4 : L'email du mandataire helene.dupre3@ac-nice.fr est déjà utilisé par "
        "une coopérative d'une autre AD",
    ]


def test_invite_queues_the_invitation_after_commit(engine, ad, publisher):
    with engine.transaction() as tx:
        report = import_coops(tx, ad, csv_file(line(1)), invite=True, actor=STAFF)
        assert publisher.ids == []  # nothing published before the commit
    assert (report.created, report.invited) == (1, 1)
    with engine.db.read() as s:
        case = s.scalars(select(Case)).one()
        steps = s.scalars(select(Step).where(Step.case_id == case.id)).all()
    assert case.state == "sending"
    assert [(st.name, st.status) for st in steps] == [("send_invitation", "pending")]
    assert publisher.ids == [steps[0].id]


def test_invite_sends_the_invitations_still_waiting_once(engine, ad, publisher):
    content = csv_file(line(1), line(2))
    run_import(engine, ad, content)
    report = run_import(engine, ad, content, invite=True)
    assert (report.unchanged, report.invited) == (2, 2)
    assert len(publisher.ids) == 2
    with engine.db.read() as s:
        assert set(s.scalars(select(Case.state))) == {"sending"}
    before = counts(engine)
    report = run_import(engine, ad, content, invite=True)
    assert (report.unchanged, report.invited) == (2, 0)
    assert counts(engine) == before and len(publisher.ids) == 2


def test_a_large_file_is_imported_in_batches(engine, ad):
    content = csv_file(*(line(n) for n in range(1, 1202)))
    report = run_import(engine, ad, content)
    assert (report.created, report.errors) == (1201, [])
    assert counts(engine)["cases"] == 1201
    assert run_import(engine, ad, content).unchanged == 1201


def test_the_ad_settings_and_column_widths_are_checked():
    ad = AD(code="AD06", academic_domains=["ac-nice.fr", "ac-corse.fr"])
    content = csv_file(
        line(1, email_mandataire="h@gmail.com"),
        line(2, nom_cooperative="x" * 201),
        [*line(3)[:3], "3", " rue Pastorelli", *line(3)[4:]],  # a separator inside a value
    )
    assert [str(e) for e in parse_coops(content, ad).errors] == [
        "Ligne 2 : L'email du mandataire doit être sur un domaine académique de l'AD06 "
        "(ac-nice.fr, ac-corse.fr)",
        "Ligne 3 : Nom de la coopérative trop long (200 caractères au plus)",
        "Ligne 4 : La ligne a plus de cellules que l'en-tête : une valeur contient sans doute "
        "le séparateur (« ; » ou « , ») sans guillemets",
    ]
    no_domain = AD(code="AD35", academic_domains=[])
    assert parse_coops(content, no_domain).file_errors == [
        "Aucun domaine académique n'est configuré pour l'AD35."
    ]


def test_a_new_email_for_an_invited_mandataire_revokes_the_old_link_and_resends(
    engine, ad, publisher
):
    from workflows.links import Links
    from workflows.models import Token

    run_import(engine, ad, csv_file(line(1)), invite=True)
    with engine.transaction() as tx:  # the invitation step ran: a link went out
        case = tx.session.scalars(select(Case)).one()
        tx.fire(case.id, "sent", actor=Actor.system("test"))
        old = Links("k").issue(
            tx.session,
            purpose="invitation",
            mandataire_id=case.data["mandataire_id"],
            case_id=case.id,
            now=tx.now,
            expires_at=tx.now + timedelta(days=7),
        )
    report = run_import(engine, ad, csv_file(line(1, email_mandataire="h.dupre@ac-nice.fr")))
    assert (report.updated, report.invited) == (1, 1)
    with engine.db.read() as s:
        assert s.get(Token, old.id).revoked_at is not None
        case = s.scalars(select(Case)).one()
        assert case.state == "sending"
        steps = s.scalars(select(Step).where(Step.case_id == case.id, Step.status == "pending"))
        assert [st.name for st in steps] == ["send_invitation"]
