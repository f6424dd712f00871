"""« Vérifier un document » (``/verification``): anyone types the code printed on an
attestation; the page answers the document's title, coop and year, or « Code inconnu. »
and nothing else."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from tests import factories
from tests.helpers import space_summary
from workflows.models import Case
from workflows.verification_codes import new_verification_code


def _document(runtime: Any, ad: Any, *, year: int | None = 2026, name: str | None = None) -> dict:
    """A coop with a case of ``year`` and an attestation of it carrying a code."""
    coop = factories.CoopFactory(ad=ad, **({"name": name} if name else {}))
    code = new_verification_code()
    with runtime.engine.transaction() as tx:
        case = Case(
            process="affiliation",
            coop_id=coop.id,
            ad_id=ad.id,
            state="validated",
            school_year=year,
            data={},
        )
        tx.session.add(case)
        tx.session.flush()
        document = space_summary(
            f"verification-{coop.id}",
            case.id,
            coop.id,
            title="Attestation d'adhésion 2026-2027",
            content=b"%PDF-1.7 attestation",
        )
        document.verification_code = code
        tx.session.add(document)
    return {"coop": coop, "code": code}


def _answer(client: Any, code: str) -> tuple[int, str]:
    response = client.get("/verification", query_string={"code": code})
    page = html.unescape(response.get_data(as_text=True)).replace("\u00a0", " ")
    found = re.search(r'id="answer"><p>(.*?)</p>', page, re.S)
    return response.status_code, found.group(1).strip() if found else ""


def test_the_form_alone(client):
    response = client.get("/verification")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Code de vérification" in page and 'name="code"' in page
    assert 'id="answer"' not in page and "noindex" in page


def test_a_valid_code_names_the_document_its_coop_and_year_only(client, runtime, ad):
    made = _document(runtime, ad)
    coop = made["coop"]
    status, answer = _answer(client, made["code"])
    assert status == 200
    assert answer == (
        f"Document valide : Attestation d'adhésion 2026-2027 de la {coop.name} "
        f"(n° {coop.affiliation_number}), année scolaire 2026-2027."
    )
    page = client.get("/verification", query_string={"code": made["code"]}).get_data(as_text=True)
    for private in (coop.school_name, coop.school_email, coop.street, coop.city, "%PDF"):
        assert private not in page, private


def test_a_coop_name_without_the_word_gets_it(client, runtime, ad):
    made = _document(runtime, ad, name="Les Mimosas")
    _, answer = _answer(client, made["code"])
    assert answer.startswith(
        "Document valide : Attestation d'adhésion 2026-2027 de la coopérative Les Mimosas (n° "
    )


def test_the_code_is_read_as_people_type_it(client, runtime, ad):
    code = _document(runtime, ad)["code"]
    bare = code.replace("-", "")
    for typed in (code.lower(), f"  {bare} ", " ".join(code.split("-")), code.replace("-", "–")):
        status, answer = _answer(client, typed)
        assert status == 200 and answer.startswith("Document valide"), typed
    confusable = code.replace("0", "O").replace("1", "I")
    assert _answer(client, confusable)[1].startswith("Document valide")


@pytest.mark.parametrize(
    "typed", ["AAAA-BBBB-CCCC", "not a code", "7KQ4-M2XD", "' OR 1=1 --", "x" * 500]
)
def test_an_unknown_code_says_so_and_nothing_more(client, runtime, ad, typed):
    _document(runtime, ad)  # a document exists, with another code
    status, answer = _answer(client, typed)
    assert status == 200 and answer == "Code inconnu."


def test_a_code_of_no_case_has_no_year(client, runtime, ad):
    made = _document(runtime, ad, year=None)
    _, answer = _answer(client, made["code"])
    assert answer.endswith(f"(n° {made['coop'].affiliation_number}).")


def test_checks_are_limited_per_address(client, runtime, ad):
    code = _document(runtime, ad)["code"]
    for _ in range(30):
        assert (
            client.get("/verification", query_string={"code": "AAAA-BBBB-CCCC"}).status_code == 200
        )
    refused = client.get("/verification", query_string={"code": code})
    page = html.unescape(refused.get_data(as_text=True)).replace("\u00a0", " ")
    assert refused.status_code == 429
    assert "Trop de vérifications depuis votre adresse" in page and "Document valide" not in page
    assert client.get("/verification").status_code == 200  # the form alone still opens
