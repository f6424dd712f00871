"""« Importer des coopératives »: preview first, then confirm, within the staff's AD."""

from __future__ import annotations

import io
import random
import re
import string

from sqlalchemy import func, select

from tests.admin.conftest import csrf_token, log_in, text
from workflows.models import Case, Coop

HEADER = (
    "numero_affiliation;nom_cooperative;ecole;adresse;code_postal;commune;email_ecole;"
    "prenom_mandataire;nom_mandataire;email_mandataire\n"
)
CSV = (
    HEADER + "0060104D;Coopérative Sainte-Thérèse;École Sainte-Thérèse;3 rue Pastorelli;06000;Nice;"
    "ce.0060104d@ac-nice.fr;Éloïse;Martin;eloise.martin@ac-nice.fr\n"
    "0060105E;Coop Les Mimosas;École Les Mimosas;8 boulevard Carnot;06400;Cannes;"
    "ce.0060105e@ac-nice.fr;Julien;Roux;julien.roux@gmail.com\n"
    "0060106F;Coop du Port;École du Port;1 quai Lunel;06300;Nice;"
    "ce.0060106f@ac-nice.fr;Karim;Benali;karim.benali@ac-nice.fr\n"
).encode()


def _upload(client, ad_id: int, content: bytes = CSV, name: str = "coops.csv", invite=True):
    html = text(client.get("/admin/importer/"))
    data = {
        "csrf_token": csrf_token(html),
        "ad_id": str(ad_id),
        "file": (io.BytesIO(content), name, "text/csv"),
    }
    if invite:
        data["invite"] = "y"
    return client.post("/admin/importer/", data=data, content_type="multipart/form-data")


def _payload(html: str) -> str:
    match = re.search(r'name="payload" type="hidden" value="([^"]+)"', html)
    assert match, "no confirm form"
    return match.group(1)


def _coops(rt) -> int:
    with rt.db.read() as session:
        return session.scalar(select(func.count()).select_from(Coop))


def test_preview_then_confirm_creates_the_coops(client, rt, ad, staff06):
    log_in(client, staff06)
    preview = _upload(client, ad.id)
    html = text(preview)
    assert preview.status_code == 200
    assert "2 lignes valides" in html and "1 ligne en erreur" in html
    assert "Ligne 3 : L'email du mandataire doit être sur un domaine académique" in html
    assert _coops(rt) == 0  # a preview writes nothing

    done = client.post(
        "/admin/importer/confirmer",
        data={"csrf_token": csrf_token(html), "payload": _payload(html)},
    )
    result = text(done)
    assert done.status_code == 200
    assert "2 coopératives créées, 0 mise à jour, 0 inchangée, 1 ligne en erreur" in result
    assert "2 invitations envoyées" in result
    assert "Ligne 3 : L'email du mandataire" in result
    assert _coops(rt) == 2
    with rt.db.read() as session:
        states = session.scalars(select(Case.state).where(Case.process == "invitation")).all()
        assert sorted(states) == ["sending", "sending"]


def test_ad_staff_import_into_their_own_ad_only(client, rt, staff06, ad50):
    log_in(client, staff06)
    html = text(client.get("/admin/importer/"))
    assert "AD06" in html and "AD50" not in html
    refused = _upload(client, ad50.id)
    assert refused.status_code == 422
    assert "Choisissez une AD de la liste." in text(refused)


def test_a_spreadsheet_or_another_file_is_refused(client, ad, staff06):
    log_in(client, staff06)
    xlsx = _upload(client, ad.id, b"PK\x03\x04 classeur", name="coops.csv")
    assert xlsx.status_code == 422 and "pas un CSV" in text(xlsx)
    pdf = _upload(client, ad.id, b"%PDF-1.7", name="coops.pdf")
    assert pdf.status_code == 422 and "format CSV (.csv)" in text(pdf)


def test_a_tampered_preview_is_refused(client, rt, ad, staff06):
    log_in(client, staff06)
    html = text(_upload(client, ad.id))
    payload = _payload(html)
    forged = payload[:-3] + ("AAA" if not payload.endswith("AAA") else "BBB")
    response = client.post(
        "/admin/importer/confirmer", data={"csrf_token": csrf_token(html), "payload": forged}
    )
    assert response.status_code == 400
    assert _coops(rt) == 0


def test_confirm_without_csrf_token_is_refused(client, rt, ad, staff06):
    log_in(client, staff06)
    html = text(_upload(client, ad.id))
    response = client.post("/admin/importer/confirmer", data={"payload": _payload(html)})
    assert response.status_code == 302  # back to a page, « Ce formulaire avait expiré »
    assert _coops(rt) == 0


def test_a_large_file_survives_the_round_trip(client, rt, ad, staff06):
    """A file of over a megabyte comes back whole with the confirm form."""
    noise = random.Random(6)
    lines = CSV.decode().splitlines()
    # An unknown « notes » column is ignored; a CSV field holds at most 128 kB.
    notes = [
        ";" * 9 + ";" + "".join(noise.choices(string.ascii_letters, k=100_000)) for _ in range(12)
    ]
    content = "\n".join([lines[0] + ";notes", lines[1] + ";", lines[3] + ";", *notes]).encode()
    log_in(client, staff06)
    html = text(_upload(client, ad.id, content, invite=False))
    assert "2 lignes valides" in html
    assert len(_payload(html)) > 600_000
    done = client.post(
        "/admin/importer/confirmer",
        data={"csrf_token": csrf_token(html), "payload": _payload(html)},
    )
    assert done.status_code == 200
    assert "2 coopératives créées" in text(done)
    assert _coops(rt) == 2


def test_the_csv_template_has_the_documented_columns_and_imports_cleanly(client, rt, ad, staff06):
    """« Télécharger le modèle CSV »: the README's columns, one example line that the
    import takes as it is (for the staff member's AD)."""
    log_in(client, staff06)
    page = text(client.get("/admin/importer/"))
    assert 'href="/admin/importer/modele.csv"' in page and "Télécharger le modèle CSV" in page
    template = client.get("/admin/importer/modele.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    assert "modele-import-cooperatives.csv" in template.headers["Content-Disposition"]
    content = template.data
    assert content.startswith("\ufeff".encode())  # a spreadsheet reads it as UTF-8
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0] == HEADER.strip()  # the documented columns, in the README's order
    assert len(lines) == 2

    preview = text(_upload(client, ad.id, content, name="modele-import-cooperatives.csv"))
    assert "1 ligne valide, 0 ligne en erreur" in preview
    done = client.post(
        "/admin/importer/confirmer",
        data={"csrf_token": csrf_token(preview), "payload": _payload(preview)},
    )
    assert "1 coopérative créée, 0 mise à jour, 0 inchangée, 0 ligne en erreur" in text(done)
