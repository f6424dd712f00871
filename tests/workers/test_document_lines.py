"""Lines drawn over skeletons (``workers.documents.lines`` and ``skeletons``): a
document of a shape already laid out is its skeleton with its own lines, reading as the
same document laid out whole; a line that does not fit sends its document to WeasyPrint
whole; a template that breaks the rules of lines is refused."""

from __future__ import annotations

import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pypdf import PdfReader

from tests.workers.test_documents_batch import SEED_CLASSES, context_of
from workers.documents import _render, batch, skeletons
from workers.documents.batch import Section, render_sections
from workers.documents.fonts import CHARSET, Style, font_for
from workers.documents.stamps import Stamps
from workflows.processes.affiliation.form import SchoolClass

TEMPLATES = ("commitment", "attestation_adhesion", "attestation_assurance")


class _Named:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


AD = _Named(
    name="OCCE 06",
    code="AD06",
    address="1 rue Cluvier, 06000 Nice",
    email="ad06@occe.coop",
    phone="04 93 00 00 00",
)


def context(name: str = "Coopérative Jean Jaurès", **form: Any) -> dict[str, Any]:
    coop = _Named(
        name=name,
        affiliation_number="0610524F",
        school_name="École Jean Jaurès",
        street="12 rue de la République",
        postal_code="06000",
        city="Nice",
    )
    return context_of(coop, AD, "7KQ4-M2XD-9PRA", **form)


def lines_of(pdf: bytes) -> list[set[str]]:
    """Each page's lines of text, as a set (a skeleton's lines come after its text);
    spaces as a reader sees them (pypdf reads one before a full stop WeasyPrint kerned)."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return [{_spaced(line) for line in page.extract_text().split("\n")} - {""} for page in pages]


def _spaced(line: str) -> str:
    return re.sub(r" ([.,])", r"\1", re.sub(r"[\s\u00a0\u202f]+", " ", line)).strip()


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The WeasyPrint passes made (each: how many sections), from an empty cache."""
    skeletons.forget_all()
    made: list[int] = []
    real = batch._render

    def counted(bodies: list[str]) -> Any:
        made.append(sum(1 for body in bodies if 'class="doc"' in body))
        return real(bodies)

    monkeypatch.setattr(batch, "_render", counted)
    yield made
    skeletons.forget_all()


def whole(items: list[tuple[str, dict[str, Any], str]]) -> list[bytes]:
    """The documents laid out whole by WeasyPrint, as before skeletons."""
    return _render(items, whole=True)


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_document_over_its_skeleton_reads_as_the_document_laid_out_whole(template, passes):
    many = [SchoolClass(f"Classe {n}", "Mme Dupont", 1, 20) for n in range(40)]
    for options in ({}, {"classes": many, "options": ["assurance_biens", "abonnement_toto"]}):
        item = [(f"affiliation/{template}", context(**options), template)]
        [drawn] = _render(item)
        [laid_out] = whole(item)
        assert lines_of(drawn) == lines_of(laid_out), options
        assert PdfReader(io.BytesIO(drawn)).metadata.title == template
    texts = " ".join(" ".join(page) for page in lines_of(drawn))
    assert "Classe 39 — Mme Dupont : 1 enseignant, 20 élèves" in texts
    assert "Code de vérification : 7KQ4-M2XD-9PRA" in texts


def test_documents_of_one_shape_share_its_skeleton_across_calls_and_coops(passes):
    first = _render([("affiliation/attestation_adhesion", context("Coop A"), "a")])
    assert passes == [1]  # the shape's skeleton
    again = _render(
        [("affiliation/attestation_adhesion", context(f"Coop {n}"), "b") for n in "BCDE"]
    )
    assert passes == [1], "no pass for a shape already laid out"
    for n, pdf in zip("BCDE", again, strict=True):
        [page] = lines_of(pdf)
        assert f"Coop {n} · n° d'affiliation 0610524F" in page
        assert "Coop A · n° d'affiliation 0610524F" not in page
    assert len({*first, *again}) == 5
    # Another number of classes is another shape: one pass for it.
    _render([("affiliation/attestation_adhesion", context(classes=SEED_CLASSES[:2]), "c")])
    assert passes == [1, 1]


def test_threads_meeting_a_new_shape_at_once_lay_it_out_once(passes, monkeypatch):
    """A worker's four threads start a wave together: the first to meet a shape lays it
    out, the others wait for it instead of laying it out too."""
    real = batch._skeletons
    started = threading.Event()

    def slow(sections: list[Section], stamps: Stamps) -> list[skeletons.Skeleton]:
        started.set()
        time.sleep(0.3)  # the others meet the shape meanwhile
        return real(sections, stamps)

    monkeypatch.setattr(batch, "_skeletons", slow)
    item = ("affiliation/attestation_adhesion", context("Coop A"), "a")
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(_render, [item])
        started.wait(5)
        others = [pool.submit(_render, [item]) for _ in range(3)]
        pdfs = [first.result(), *(other.result() for other in others)]
    assert passes == [1], "one pass for the shape, whatever the threads"
    assert all(lines_of(pdf) == lines_of(pdfs[0][0]) for [pdf] in pdfs)


def test_a_shape_whose_layout_failed_elsewhere_is_laid_out_by_the_waiter(passes, monkeypatch):
    real = batch._skeletons
    calls: list[int] = []
    started = threading.Event()

    def failing_once(sections: list[Section], stamps: Stamps) -> list[skeletons.Skeleton]:
        calls.append(1)
        if len(calls) == 1:
            started.set()
            time.sleep(0.3)
            raise RuntimeError("mise en page interrompue")
        return real(sections, stamps)

    monkeypatch.setattr(batch, "_skeletons", failing_once)
    item = ("affiliation/attestation_adhesion", context("Coop A"), "a")
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_render, [item])
        started.wait(5)
        second = pool.submit(_render, [item])
        with pytest.raises(RuntimeError):
            first.result()
        [pdf] = second.result()
    assert len(calls) == 2 and passes == [1]
    assert "Coop A · n° d'affiliation 0610524F" in lines_of(pdf)[0]


@pytest.mark.parametrize(
    "name",
    [
        "Coopérative scolaire de l'école élémentaire publique du quartier des Moulins "
        "et de la Madeleine réunies",  # wider than its line
        "Кооператив школы",  # characters the line font does not hold
    ],
)
def test_a_line_that_does_not_fit_sends_its_document_to_weasyprint_whole(name, passes):
    fitting, odd = _render(
        [
            ("affiliation/commitment", context("Coop A"), "a"),
            ("affiliation/commitment", context(name), "b"),
        ]
    )
    assert passes == [1, 1]  # the shape's skeleton, then the document that did not fit
    text = re.sub(r"\s+", " ", " ".join(" ".join(page) for page in lines_of(odd)))
    assert name.split()[0] in text and f"{name.split()[-1]} · n° d'affiliation" in text
    assert "Coop A" in " ".join(lines_of(fitting)[0])


def test_the_line_font_holds_french_and_measures_wider_than_nothing():
    font = font_for(Style(("DejaVu Sans",), 400, False))
    assert font.fits("Œuvre d'élèves : 1\u202f234,56\u00a0€ « à l'école » — n° 3")
    assert not font.fits("Жанна") and not font.fits("✓")
    assert set("àâçéèêëîïôûùüÿœæ€«»’–—…") <= CHARSET
    assert font.width("Total", 9) > font.width("Tota", 9) > 0
    assert font.encode("A").startswith(b"<") and len(font.encode("AB")) == 10


def _section(body: str, texts: tuple[str, ...]) -> Section:
    html = (
        f'<section class="doc" id="t1" data-end="#t1-end">{body}<span id="t1-end"></span></section>'
    )
    return Section(html, "essai", "t1", texts)


def test_a_line_must_be_the_only_content_of_its_block(passes):
    with pytest.raises(ValueError, match="seul contenu de son bloc"):
        render_sections([_section("<p>Nom : <!--line:0--></p>", ("Dupont",))], Stamps())


def test_a_line_is_refused_inside_a_stamp():
    stamps = Stamps()
    with pytest.raises(ValueError, match="dans un tampon"):
        stamps(lambda: "<p><!--line:0--></p>")


def test_a_handmade_section_draws_its_lines_and_keeps_an_empty_one(passes):
    [pdf] = render_sections(
        [_section("<div><!--line:0--></div><div><!--line:1--></div><p>fin</p>", ("Bonjour", ""))],
        Stamps(),
    )
    assert lines_of(pdf) == [{"Bonjour", "fin", "· Page 1 / 1"}]


def test_the_skeletons_kept_are_bounded(passes, monkeypatch):
    monkeypatch.setattr(skeletons, "KEPT", 2)
    for n in (1, 2, 3):
        classes = [SchoolClass(f"C{i}", "", 1, 20) for i in range(n)]
        _render([("affiliation/attestation_adhesion", context(classes=classes), "x")])
    assert len(skeletons._kept) == 2
    _render([("affiliation/attestation_adhesion", context(classes=SEED_CLASSES[:1]), "x")])
    assert passes == [1, 1, 1, 1]  # the first shape had been dropped: laid out again
