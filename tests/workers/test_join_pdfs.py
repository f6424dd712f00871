"""The day's letters printed as one PDF: every page of every letter, in order, each
letter keeping its own page numbers; a blank back between letters printed two-sided;
nothing to join, or a file that is no PDF, refused in French."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from workers.documents.join import NOTHING, UNREADABLE, join_pdfs

#: A full HTML document of its own (a few pages, numbered as letters are).
PAGES = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><style>
@page {{ size: A4; @bottom-right {{ content: "Page " counter(page) " / " counter(pages); }} }}
p {{ break-after: page; }} p:last-child {{ break-after: auto; }}
</style></head><body>{body}</body></html>"""


def letter(name: str, pages: int) -> bytes:
    body = "".join(f"<p>Lettre {name}, feuille {n}</p>" for n in range(1, pages + 1))
    from weasyprint import HTML

    return HTML(string=PAGES.format(body=body)).write_pdf()


def texts(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def letters() -> list[bytes]:
    return [letter("A", 2), letter("B", 1), letter("C", 3)]


def test_every_page_of_every_letter_in_order(letters):
    pages = texts(join_pdfs(letters))
    assert len(pages) == 6
    expected = [
        ("A", 1, 2),
        ("A", 2, 2),
        ("B", 1, 1),
        ("C", 1, 3),
        ("C", 2, 3),
        ("C", 3, 3),
    ]
    for page, (name, n, total) in zip(pages, expected, strict=True):
        assert f"Lettre {name}, feuille {n}" in page and f"Page {n} / {total}" in page


def test_two_sided_each_letter_starts_on_a_new_sheet(letters):
    pages = texts(join_pdfs(letters, two_sided=True))
    # A (2 pages) needs nothing; B (1 page) gets a blank back; C is last.
    assert len(pages) == 7 and pages[3] == ""
    assert "Lettre B, feuille 1" in pages[2] and "Lettre C, feuille 1" in pages[4]
    reader = PdfReader(io.BytesIO(join_pdfs(letters, two_sided=True)))
    assert reader.pages[3].mediabox == reader.pages[2].mediabox


def test_nothing_to_join_is_refused():
    with pytest.raises(ValueError, match=NOTHING):
        join_pdfs([])


def test_a_file_that_is_no_pdf_is_refused_by_its_rank(letters):
    with pytest.raises(ValueError) as refused:
        join_pdfs([letters[0], b"%PDF-1.7 mais pas vraiment", letters[1]])
    assert str(refused.value) == UNREADABLE.format(n=2)
