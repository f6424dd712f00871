"""Documents rendered many at once (``workers.documents.store_documents``): one
WeasyPrint pass split into one PDF per document, each numbered on its own, carrying its
own coop and verification code, stored once under its key; and the affiliation's three
documents read as their reader reads them (the text of the rendered PDF)."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from tests.test_typography import assert_french
from workers.documents import Draft, render_pdf, store_document, store_documents
from workflows.models import Coop, Document
from workflows.processes.affiliation.fee import Fee, Price, PriceList, compute
from workflows.processes.affiliation.form import AffiliationForm, SchoolClass
from workflows.verification_codes import ALPHABET, new_verification_code, normalized

TEMPLATES = ("commitment", "attestation_adhesion", "attestation_assurance")
#: Seed 004's price list: 8,00 € + 63 × 1,73 € + 4 × 4,00 € + an option of 4,00 €.
PRICES = PriceList(
    1,
    2026,
    (
        Price("forfait", "forfait", "de la coopérative (forfait)", 800),
        Price("eleve", "eleve", "des élèves", 173),
        Price("enseignant", "enseignant", "des enseignants", 400),
        Price("assurance_biens", "assurance", "Assurance des biens de la coopérative", 1250),
        Price("abonnement_toto", "abonnement", "Abonnement à TOTO est content", 400),
    ),
)
SEED_CLASSES = [
    SchoolClass("CE1", "Mme Detruc - Mlle Machin", 2, 23),
    SchoolClass("CE2", "M. Chose", 1, 22),
    SchoolClass("CP", "M. Aymard", 1, 18),
]


def text_of(pdf: bytes) -> list[str]:
    """Each page's text, spaces as a reader sees them (non-breaking ones included)."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return [re.sub(r"[\s\u00a0\u202f]+", " ", page.extract_text()) for page in pages]


def context(
    session: Session,
    coop_id: int,
    code: str,
    *,
    classes: list[SchoolClass] | None = None,
    options: tuple[str, ...] = ("abonnement_toto",),
) -> dict[str, Any]:
    """What the affiliation's steps give its templates (the contract at their top)."""
    coop = session.get(Coop, coop_id)
    assert coop is not None
    return context_of(coop, coop.ad, code, classes=classes, options=options)


def context_of(
    coop: Any,
    ad: Any,
    code: str,
    *,
    classes: list[SchoolClass] | None = None,
    options: tuple[str, ...] = ("abonnement_toto",),
) -> dict[str, Any]:
    """:func:`context` of a coop and its AD (rows, or anything with their attributes)."""
    form = AffiliationForm(classes=classes or SEED_CLASSES, options=list(options))
    fee: Fee = compute(PRICES, form)
    reference = f"ADH-2026-{coop.affiliation_number}"
    return {
        "ad": ad,
        "coop": coop,
        "school_year_label": "2026-2027",
        "form": form,
        "fee": fee,
        "reference": reference,
        "mandataire_name": "Éloïse Martin",
        "issued_on": "14/09/2026",
        "validated_on": "21/09/2026",
        "payment": {
            "amount_cents": fee.total_cents,
            "received_on": "18/09/2026",
            "reference": reference,
        },
        "verification_code": code,
        "verification_url": f"https://coopflow.example/verification?code={code}",
    }


def builder(coop_id: int, template: str, code: str, **options: Any) -> Callable[[Session], Draft]:
    def build(session: Session) -> Draft:
        return Draft(
            template=f"affiliation/{template}",
            context=context(session, coop_id, code, **options),
            coop_id=coop_id,
            case_id=None,
            kind=template,
            title=f"{template} {coop_id}",
            filename=f"{template}-{coop_id}.pdf",
            verification_code=code,
        )

    return build


def documents(engine: Any, ids: list[int]) -> list[Document]:
    with engine.db.read() as session:
        found = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(ids)))}
    return [found[i] for i in ids]


def count(engine: Any) -> int:
    with engine.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Document)) or 0)


def test_a_batch_stores_one_pdf_per_document_each_its_own(engine, ad):
    coops = [factories.CoopFactory(ad=ad) for _ in range(7)]
    codes = [new_verification_code() for _ in coops]
    many_classes = [SchoolClass(f"Classe {n}", "Mme Dupont", 1, 20) for n in range(40)]
    wanted = [
        (
            f"doc-{n}",
            builder(
                coop.id,
                TEMPLATES[n % 3],
                codes[n],
                **({"classes": many_classes} if n == 3 else {}),
            ),
        )
        for n, coop in enumerate(coops)
    ]
    ids = store_documents(engine, wanted)
    assert len(set(ids)) == 7 and count(engine) == 7
    stored = documents(engine, ids)
    for n, (coop, code, document) in enumerate(zip(coops, codes, stored, strict=True)):
        pages = text_of(document.content)
        whole = " ".join(pages)
        assert coop.name in whole and coop.affiliation_number in whole, n
        assert f"Code de vérification : {code}" in whole, n
        # No other coop's name or code slipped into this document.
        for other, other_code in zip(coops, codes, strict=True):
            if other.id != coop.id:
                assert f"{other.name} " not in whole and other_code not in whole, n
        if n == 3:  # forty classes: two pages, numbered as a document of its own
            assert len(pages) == 2
            assert "Page 1 / 2" in pages[0] and "Page 2 / 2" in pages[1]
            assert "Classe 39" in whole
        else:
            assert len(pages) == 1 and "Page 1 / 1" in pages[0], n
        assert document.sha256 == hashlib.sha256(document.content).hexdigest()
        assert document.size == len(document.content)
        assert document.verification_code == code
        assert document.kind == TEMPLATES[n % 3] and document.filename.endswith(".pdf")
        assert PdfReader(io.BytesIO(document.content)).metadata.title == document.title
    assert len({d.sha256 for d in stored}) == 7


def test_run_twice_stores_nothing_more_and_renders_nothing(engine, ad, monkeypatch):
    coops = [factories.CoopFactory(ad=ad) for _ in range(3)]
    wanted = [
        (f"again-{c.id}", builder(c.id, "attestation_adhesion", new_verification_code()))
        for c in coops
    ]
    first = store_documents(engine, wanted)
    import workers.documents as documents_module

    def no_render(*_args: object) -> list[bytes]:
        raise AssertionError("rendered again")

    monkeypatch.setattr(documents_module, "render_sections", no_render)
    assert store_documents(engine, wanted) == first
    assert count(engine) == 3


def test_a_mix_of_stored_and_new_renders_only_the_new(engine, ad):
    coops = [factories.CoopFactory(ad=ad) for _ in range(4)]
    codes = [new_verification_code() for _ in coops]
    wanted = [
        (f"mix-{c.id}", builder(c.id, "attestation_assurance", code))
        for c, code in zip(coops, codes, strict=True)
    ]
    early = store_documents(engine, wanted[1:3])
    built: list[str] = []

    def counted(key: str, build: Callable[[Session], Draft]) -> Callable[[Session], Draft]:
        def wrapper(session: Session) -> Draft:
            built.append(key)
            return build(session)

        return wrapper

    ids = store_documents(engine, [(k, counted(k, b)) for k, b in wanted])
    assert ids[1:3] == early and built == ["mix-" + str(coops[0].id), "mix-" + str(coops[3].id)]
    assert count(engine) == 4
    for coop, code, document in zip(coops, codes, documents(engine, ids), strict=True):
        assert (
            coop.name in " ".join(text_of(document.content)) and document.verification_code == code
        )


def test_a_single_store_document_still_works_and_the_same_key_twice_is_one(engine, ad):
    coop = factories.CoopFactory(ad=ad)
    build = builder(coop.id, "commitment", new_verification_code())
    one = store_document(engine, key="single", build=build)
    assert store_document(engine, key="single", build=build) == one
    assert store_documents(engine, [("single", build), ("single", build)]) == [one, one]
    assert count(engine) == 1


def test_the_code_printed_is_the_code_stored(engine, ad):
    coop = factories.CoopFactory(ad=ad)

    def build(session: Session) -> Draft:
        return Draft(
            template="affiliation/attestation_adhesion",
            context=context(session, coop.id, "7KQ4-M2XD-9PRA"),
            coop_id=coop.id,
            case_id=None,
            kind="attestation_adhesion",
            title="Attestation",
            filename="attestation.pdf",
            verification_code="AAAA-BBBB-CCCC",
        )

    with pytest.raises(ValueError, match="n'est pas celui du document"):
        store_documents(engine, [("mismatch", build)])
    assert count(engine) == 0


def _render(engine: Any, coop_id: int, template: str, **options: Any) -> str:
    """The text of ``template`` rendered alone; its French typography checked."""
    with engine.db.read() as session:
        pdf = render_pdf(
            f"affiliation/{template}", context(session, coop_id, "7KQ4-M2XD-9PRA", **options)
        )
    [page] = PdfReader(io.BytesIO(pdf)).pages
    assert_french(f"{template}.pdf", re.sub(r"\s*\n\s*", " ", page.extract_text()))
    [text] = text_of(pdf)
    assert "Page 1 / 1" in text
    return text


def _common(text: str, coop: Coop) -> None:
    """What every affiliation document says, with seed 004's numbers and fee."""
    for expected in (
        "OCCE 06 · association départementale AD06",
        "ad06@occe.coop",
        "Année scolaire 2026-2027",
        f"{coop.name} · n° d'affiliation {coop.affiliation_number}",
        coop.school_name,
        "12 rue de la République, 06000 Nice",
        "Mandataire : Éloïse Martin",
        "CE1 — Mme Detruc - Mlle Machin : 2 enseignants, 23 élèves",
        "CP — M. Aymard : 1 enseignant, 18 élèves",
        "Total : 3 classes, 4 enseignants, 63 élèves",
        "de la coopérative (forfait) : 8,00 €",
        "des élèves (63 × 1,73 €) : 108,99 €",
        "des enseignants (4 × 4,00 €) : 16,00 €",
        "Abonnement à TOTO est content : 4,00 €",
        "Total : 136,99 €",
        "Code de vérification : 7KQ4-M2XD-9PRA",
        "https://coopflow.example/verification?code=7KQ4-M2XD-9PRA",
    ):
        assert expected in text, expected


def test_the_commitment_reads_as_the_mandataire_signs_it(engine, ad):
    coop = factories.CoopFactory(ad=ad)
    text = _render(engine, coop.id, "commitment")
    _common(text, coop)
    for expected in (
        "Engagement annuel du mandataire",
        "Engagement annuel du mandataire 2026-2027 · Page 1 / 1",
        "Je soussigné(e), Éloïse Martin,",
        "mandataire de la coopérative ci-dessus, m'engage pour l'année scolaire 2026-2027 à :",
        "tenir au jour le jour la comptabilité",
        "compte rendu d'activités et son compte rendu financier",
        "Signature du mandataire",
        f"Paiement de 136,99 € à l'ordre de OCCE 06, référence ADH-2026-{coop.affiliation_number}",
        "Document établi le 14/09/2026.",
    ):
        assert expected in text, expected


def test_the_attestation_of_membership(engine, ad):
    coop = factories.CoopFactory(ad=ad)
    text = _render(engine, coop.id, "attestation_adhesion")
    _common(text, coop)
    for expected in (
        "Attestation d'adhésion",
        "atteste que la coopérative ci-dessus est adhérente de l'OCCE pour l'année scolaire "
        "2026-2027",
        "Attestation d'adhésion 2026-2027 · Page 1 / 1",
        "Adhésion validée le 21/09/2026.",
        f"Paiement de 136,99 € reçu le 18/09/2026, référence ADH-2026-{coop.affiliation_number}.",
        "Fait le 14/09/2026, pour l'association départementale OCCE 06.",
    ):
        assert expected in text, expected


def test_the_attestation_of_insurance_with_and_without_the_option(engine, ad):
    coop = factories.CoopFactory(ad=ad)
    text = _render(engine, coop.id, "attestation_assurance")
    _common(text, coop)
    assert "Attestation d'assurance" in text
    assert "est assurée par son adhésion à l'OCCE" in text
    assert "du 1er septembre 2026 au 31 août 2027" in text
    assert "Aucune option d'assurance complémentaire" in text
    insured = _render(
        engine, coop.id, "attestation_assurance", options=("assurance_biens", "abonnement_toto")
    )
    assert (
        "Option d'assurance souscrite : Assurance des biens de la coopérative (12,50 €)" in insured
    )
    assert "Aucune option" not in insured and "Total : 149,49 €" in insured


def test_codes_are_unambiguous_grouped_and_read_loosely():
    codes = {new_verification_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
        assert set(code.replace("-", "")) <= set(ALPHABET)
        assert normalized(code) == code
        assert normalized(f"  {code.lower().replace('-', ' ')} ") == code
    assert normalized("7kq4m2xd9pra") == "7KQ4-M2XD-9PRA"
    assert normalized("7KQ4–M2XD–9PRA") == "7KQ4-M2XD-9PRA"  # dashes a word processor makes
    assert normalized("OIL0-0000-0000") == "0110-0000-0000"  # O for 0, I and L for 1
    for wrong in ("", None, "7KQ4-M2XD", "7KQ4-M2XD-9PRA-0", "7KQ4-M2XD-9PRU", "<script>"):
        assert normalized(wrong) is None
