"""Many documents in one WeasyPrint pass, split into one PDF each.

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
from dataclasses import dataclass
from functools import cache
from typing import Any

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
    #: Its id in the pass (``s<n>``), given to its template as ``section_id``.
    section_id: str


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


def render_sections(sections: list[Section], stamps: Stamps) -> list[bytes]:
    """One PDF per section, in order, in passes of at most :data:`MAX_SECTIONS`."""
    pdfs: list[bytes] = []
    for start in range(0, len(sections), MAX_SECTIONS):
        pdfs.extend(_one_pass(sections[start : start + MAX_SECTIONS], stamps))
    return pdfs


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


def _one_pass(sections: list[Section], stamps: Stamps) -> list[bytes]:
    uses = Counter(k for s in sections for k in stamps.keys_in(s.html))
    shared = {key for key, times in uses.items() if times > 1}
    unknown = stamps.unknown(shared)
    if unknown:
        stamps.learn(_measure(unknown))
    bodies = [stamps.with_slots(s.html, shared) for s in sections]
    bodies += [stamp_section(key, stamps.html[key]) for key in uses if key in shared]
    document = _render(bodies)
    starts, slots, stamp_pages = _layout(document, [s.section_id for s in sections])
    expected = sum(times for key, times in uses.items() if key in shared)
    if sum(len(found) for found in slots) != expected:
        raise ValueError("des emplacements de tampon manquent après la mise en page")
    splitter = Splitter(document.write_pdf())
    ends = [*starts[1:], min((i for i, _ in stamp_pages.values()), default=len(document.pages))]
    pdfs = []
    for section, first, end in zip(sections, starts, ends, strict=True):
        pages = list(range(first, end))
        replaced, added = stamped(splitter, pages, slots, stamp_pages)
        pdfs.append(splitter.document(pages, section.title, replaced, added))
    return pdfs


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
