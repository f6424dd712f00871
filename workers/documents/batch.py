"""Many documents in one WeasyPrint pass, split into one PDF each; and the documents
whose shape is known, drawn over its skeleton (:func:`render_sections`).

A pass has a fixed cost (the stylesheets, the fonts, the PDF's font subsets and
writing) that dominates a one-page attestation rendered alone: here the sections of up
to :data:`MAX_SECTIONS` documents are laid out together, written as one PDF, and split
by page ranges with pypdf (each PDF then a document of its own: its pages, its title,
its hash). Each document is numbered on its own pages (``_sections.css``: a page group
per section, its page count read from its end marker), and the parts documents share
are laid out once per pass (:mod:`workers.documents.stamps`).

Where the time went in a pass of 45 documents before this design (cProfile, WeasyPrint
70): layout 50 % (about 0.7 ms per line of text, three to five times that for a row of
floated, flex or table cells), drawing 25 % (each line is shaped again by Pango),
cascade 10 % (WeasyPrint's HTML5 user-agent stylesheet is matched against every
element: :data:`UA_CSS` is the small one these documents need), pypdf's split 10 %.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from workers.documents import skeletons
from workers.documents.lines import Slot, filled, has_lines, skeleton_of, slots_on
from workers.documents.skeletons import Skeleton
from workers.documents.split import Splitter
from workers.documents.stamps import Placed, Stamps, boxes_on, stamp_section, stamped
from workers.templating import TEMPLATES

#: Sections per pass: past fifty, a pass's memory grows with no gain in speed.
MAX_SECTIONS = 50
SECTIONS_CSS = TEMPLATES / "documents" / "_sections.css"
UA_CSS = TEMPLATES / "documents" / "_ua.css"


@dataclass(frozen=True)
class Section:
    """A document of a pass: its ``<section>`` (stamps still as tokens) and its title."""

    html: str
    title: str
    #: Its id in the pass, given to its template as ``section_id``.
    section_id: str
    #: The text of each of its lines (:mod:`workers.documents.lines`), in order.
    texts: tuple[str, ...] = ()


@cache
def _weasyprint() -> tuple[Any, Any, list[Any]]:
    """WeasyPrint's HTML class with our user-agent stylesheet, the font configuration
    and the parsed stylesheets: made once per process (loading pango takes ~0.5 s)."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    user_agent = CSS(filename=str(UA_CSS), font_config=fonts)

    class SectionsHTML(HTML):
        """HTML whose user-agent stylesheet is ``_ua.css`` (what a section uses)."""

        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            return [user_agent]

    return SectionsHTML, fonts, [CSS(filename=str(SECTIONS_CSS), font_config=fonts)]


def render_sections(sections: list[Section], stamps: Stamps, *, whole: bool = False) -> list[bytes]:
    """One PDF per section, in order: a section with lines drawn over its shape's
    skeleton (laid out in passes of the shapes not met yet; a shape another thread is
    laying out is waited for, not laid out twice), the others, those whose
    lines do not fit and, with ``whole``, all of them laid out whole, in passes of at
    most :data:`MAX_SECTIONS`."""
    pdfs: list[bytes | None] = [None] * len(sections)
    keys = {} if whole else {i: _shape(s) for i, s in enumerate(sections) if has_lines(s.html)}
    found: dict[str, Skeleton] = {}
    missing: dict[str, Section] = {}
    for i, key in keys.items():
        skeleton = skeletons.known(key)
        if skeleton is not None:
            found[key] = skeleton
        else:
            missing.setdefault(key, sections[i])
    mine, theirs = skeletons.claim(list(missing))
    try:
        _lay_out(mine, missing, stamps, found)
    finally:
        skeletons.release(mine)
    for key, event in theirs.items():
        waited = skeletons.waited(key, event)
        if waited is not None:
            found[key] = waited
    _lay_out([key for key in theirs if key not in found], missing, stamps, found)
    for i, key in keys.items():
        pdfs[i] = found[key].fill(list(sections[i].texts), sections[i].title)
    laid_out = [i for i, pdf in enumerate(pdfs) if pdf is None]
    for start in range(0, len(laid_out), MAX_SECTIONS):
        part = laid_out[start : start + MAX_SECTIONS]
        done, _ = _one_pass([_filled(sections[i]) for i in part], stamps)
        for i, pdf in zip(part, done, strict=True):
            pdfs[i] = pdf
    return [pdf for pdf in pdfs if pdf is not None]


def _lay_out(
    keys: list[str], sections: dict[str, Section], stamps: Stamps, found: dict[str, Skeleton]
) -> None:
    """The skeletons of the shapes ``keys`` (one section of each in ``sections``), laid
    out in passes of at most :data:`MAX_SECTIONS`, kept and put in ``found``."""
    for start in range(0, len(keys), MAX_SECTIONS):
        chunk = keys[start : start + MAX_SECTIONS]
        built = _skeletons([sections[key] for key in chunk], stamps)
        for key, skeleton in zip(chunk, built, strict=True):
            skeletons.keep(key, skeleton)
            found[key] = skeleton


def _shape(section: Section) -> str:
    """The key of a section's skeleton: its HTML without its lines nor its id."""
    return skeletons.key_of(skeleton_of(section.html).replace(section.section_id, "§"))


def _filled(section: Section) -> Section:
    return replace(section, html=filled(section.html, list(section.texts)))


def _skeletons(sections: list[Section], stamps: Stamps) -> list[Skeleton]:
    """The skeleton of each section's shape, laid out in one pass."""
    shaped = [replace(s, html=skeleton_of(s.html)) for s in sections]
    pdfs, slots = _one_pass(shaped, stamps, lines=True)
    return [
        Skeleton(pdf, on_pages, len(s.texts))
        for s, pdf, on_pages in zip(sections, pdfs, slots, strict=True)
    ]


def _page_html(bodies: list[str]) -> str:
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Documents</title>'
        f"</head><body>{''.join(bodies)}</body></html>"
    )


def _render(bodies: list[str]) -> Any:
    html_class, fonts, stylesheets = _weasyprint()
    return html_class(string=_page_html(bodies)).render(stylesheets=stylesheets, font_config=fonts)


def _measure(parts: dict[str, str]) -> dict[str, float]:
    """The height of each stamp, laid out alone (the first time a process meets it)."""
    document = _render([stamp_section(key, html) for key, html in parts.items()])
    heights = {box.key: box.height for page in document.pages for box in boxes_on(page)[1]}
    missing = set(parts) - set(heights)
    if missing:
        raise ValueError(f"tampons sans hauteur : {sorted(missing)}")
    return heights


def _one_pass(
    sections: list[Section], stamps: Stamps, *, lines: bool = False
) -> tuple[list[bytes], list[list[list[Slot]]]]:
    """Each section's PDF, and with ``lines`` the slots of lines on each of its pages."""
    uses = Counter(k for s in sections for k in stamps.keys_in(s.html))
    shared = {key for key, times in uses.items() if times > 1}
    unknown = stamps.unknown(shared)
    if unknown:
        stamps.learn(_measure(unknown))
    bodies = [stamps.with_slots(s.html, shared) for s in sections]
    bodies += [stamp_section(key, stamps.html[key]) for key in uses if key in shared]
    document = _render(bodies)
    starts, slots, stamp_pages = _layout(document, [s.section_id for s in sections])
    line_slots = [slots_on(page) if lines else [] for page in document.pages]
    expected = sum(times for key, times in uses.items() if key in shared)
    if sum(len(found) for found in slots) != expected:
        raise ValueError("des emplacements de tampon manquent après la mise en page")
    splitter = Splitter(document.write_pdf())
    ends = [*starts[1:], min((i for i, _ in stamp_pages.values()), default=len(document.pages))]
    pdfs = []
    drawn = []
    for section, first, end in zip(sections, starts, ends, strict=True):
        pages = list(range(first, end))
        replaced, added = stamped(splitter, pages, slots, stamp_pages)
        pdfs.append(splitter.document(pages, section.title, replaced, added))
        drawn.append([line_slots[i] for i in pages])
    return pdfs, drawn


def _layout(
    document: Any, section_ids: list[str]
) -> tuple[list[int], list[list[Placed]], dict[str, tuple[int, Placed]]]:
    """Where each section starts (its id first seen on a page), the slots on each
    page, and each stamp's page and box."""
    starts: dict[str, int] = {}
    slots: list[list[Placed]] = []
    stamp_pages: dict[str, tuple[int, Placed]] = {}
    for index, page in enumerate(document.pages):
        for anchor in page.anchors:
            starts.setdefault(anchor, index)
        on_page, stamps = boxes_on(page)
        slots.append(on_page)
        for box in stamps:
            stamp_pages[box.key] = (index, box)
    try:
        first_pages = [starts[section_id] for section_id in section_ids]
    except KeyError as missing:
        raise ValueError(f"section {missing} absente de la mise en page") from None
    if first_pages != sorted(first_pages) or len(set(first_pages)) != len(section_ids):
        raise ValueError("deux documents commencent sur la même page")
    return first_pages, slots, stamp_pages
