"""« Vérifier une attestation » in the back-office: staff see the document of a code
(its title, coop, year, date, hash, file), within their AD only; a code of another AD's
coop reads as unknown."""

from __future__ import annotations

import hashlib
import html
from typing import Any

from tests import factories
from tests.admin.conftest import log_in
from tests.helpers import space_summary
from workflows.models import Case
from workflows.verification_codes import new_verification_code

URL = "/admin/verification/"
UNKNOWN = "Code inconnu (ou d'une coopérative hors de votre association départementale)."


def _attestation(rt: Any, ad: Any) -> dict[str, Any]:
    coop = factories.CoopFactory(ad=ad)
    code = new_verification_code()
    content = f"%PDF-1.7 attestation {coop.id}".encode()
    with rt.engine.transaction() as tx:
        case = Case(
            process="affiliation", coop_id=coop.id, ad_id=ad.id, state="validated", school_year=2026
        )
        tx.session.add(case)
        tx.session.flush()
        document = space_summary(
            f"staff-check-{coop.id}",
            case.id,
            coop.id,
            title="Attestation d'assurance 2026-2027",
            filename=f"attestation-assurance-2026-2027-{coop.affiliation_number}.pdf",
            content=content,
        )
        document.sha256 = hashlib.sha256(content).hexdigest()
        document.verification_code = code
        tx.session.add(document)
        tx.session.flush()
        document_id = document.id
    return {"coop": coop, "code": code, "sha256": document.sha256, "document_id": document_id}


def _page(client: Any, code: str | None = None) -> str:
    response = client.get(URL, query_string={"code": code} if code is not None else None)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True)).replace("\u00a0", " ")


def test_staff_see_the_document_of_a_code_of_their_ad(client, rt, ad, staff06):
    made = _attestation(rt, ad)
    coop = made["coop"]
    log_in(client, staff06)
    page = _page(client, made["code"].lower().replace("-", " "))
    assert "Document valide : Attestation d'assurance 2026-2027" in page
    assert f'href="/admin/cooperatives/{coop.id}"' in page and coop.name in page
    assert "2026-2027" in page and made["sha256"] in page and made["code"] in page
    download = f"/admin/cooperatives/{coop.id}/documents/{made['document_id']}"
    assert download in page
    assert client.get(download).data.startswith(b"%PDF-1.7 attestation")
    assert UNKNOWN not in page


def test_a_code_of_another_ads_coop_is_unknown_to_them(client, rt, ad, ad50, staff06):
    elsewhere = _attestation(rt, ad50)
    log_in(client, staff06)
    page = _page(client, elsewhere["code"])
    assert UNKNOWN in page
    assert elsewhere["coop"].name not in page and elsewhere["sha256"] not in page


def test_national_staff_see_every_ad(client, rt, ad50, national):
    elsewhere = _attestation(rt, ad50)
    log_in(client, national)
    assert "Document valide" in _page(client, elsewhere["code"])


def test_a_code_that_is_none_and_the_form_alone(client, rt, ad, staff06):
    _attestation(rt, ad)
    log_in(client, staff06)
    alone = _page(client)
    assert "Code de vérification" in alone and UNKNOWN not in alone
    for typed in ("AAAA-BBBB-CCCC", "rien", "<b>x</b>"):
        page = _page(client, typed)
        assert UNKNOWN in page and "Document valide" not in page
    raw = client.get(URL, query_string={"code": "<b>x</b>"}).get_data(as_text=True)
    assert "<b>x</b>" not in raw and "&lt;b&gt;x&lt;/b&gt;" in raw


def test_the_page_is_for_staff_only(client, rt, ad):
    made = _attestation(rt, ad)
    response = client.get(URL, query_string={"code": made["code"]})
    assert response.status_code in (302, 303) and "/admin/connexion" in response.location
