"""Stamps: the parts documents share (a letterhead, a title, the commitment's text),
laid out once per WeasyPrint pass and drawn into every document that shows them.

Laying text out is what a pass spends its time on (about a millisecond per line, twice:
when the page is made and when it is drawn), and an attestation repeats most of its
lines from one coop to the next. A template wraps such a part in
``{% call stamp() %}…{% endcall %}`` at the top level of its section: the part is then
rendered once per pass on a page of its own, and each document gets an empty block of
the part's height in its place (a *slot*); when the pass is split into documents, each
slot receives the part's page as a PDF form (``Do``), moved to where the slot is. A
form's text is text (extracted, searched, copied) like the rest of the page.

Correct whatever is stamped: a part is known by its HTML, so a part that differs from
one document to the next (it holds a name) is a different stamp, only not a shared one.
Its height is measured in a pass of its own the first time a process meets it, and
kept (:data:`_heights`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from workers.documents.split import Splitter

#: Heights (CSS px) of the stamps met by this process, by key; bounded (a letterhead
#: per AD, a title per document and year: a few hundred at most in practice).
_heights: dict[str, float] = {}
_HEIGHTS_KEPT = 2048
_TOKEN = re.compile(r"<!--stamp:([0-9a-f]{20})-->")
#: CSS px to PDF points.
PT = 0.75


@dataclass
class Stamps:
    """The stamps met while rendering the sections of one call (the ``stamp`` given to
    templates): their HTML by key, in the order met."""

    html: dict[str, str] = field(default_factory=dict)

    def __call__(self, caller: Any) -> Markup:
        part = str(caller()).strip()
        if "<!--line:" in part:
            raise ValueError("une ligne ({% call line() %}) dans un tampon : hors des tampons")
        key = hashlib.sha256(part.encode()).hexdigest()[:20]
        self.html.setdefault(key, part)
        return Markup(f"<!--stamp:{key}-->")

    def keys_in(self, section_html: str) -> list[str]:
        return _TOKEN.findall(section_html)

    def unknown(self, keys: set[str]) -> dict[str, str]:
        """The stamps of ``keys`` whose height this process does not know yet."""
        return {k: self.html[k] for k in keys if k not in _heights}

    @staticmethod
    def learn(heights: dict[str, float]) -> None:
        if len(_heights) + len(heights) > _HEIGHTS_KEPT:
            _heights.clear()
        _heights.update(heights)

    def with_slots(self, section_html: str, shared: set[str]) -> str:
        """``section_html`` with an empty block of its stamp's height for each stamp of
        ``shared``, and the others' HTML in place (a part one document shows is laid
        out with it: a stamp pays for its own page only when documents share it)."""

        def slot(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in shared:
                return self.html[key]
            height = _heights[key]
            return f'<div class="stamp-slot" data-stamp="{key}" style="height: {height}px"></div>'

        return _TOKEN.sub(slot, section_html)


def stamp_section(key: str, html: str) -> str:
    """The page of a stamp in a pass: the part in a box of its own, margins held in."""
    box = f'<div class="stamp-box" data-stamp-box="{key}">{html}</div>'
    return f'<section class="stamp">{box}</section>'


@dataclass(frozen=True)
class Placed:
    """A box found on a page after layout: where (CSS px) and how wide."""

    key: str
    x: float
    y: float
    width: float
    height: float


def boxes_on(page: Any) -> tuple[list[Placed], list[Placed]]:
    """The slots and the stamp boxes laid out on a WeasyPrint page (its box tree)."""
    from weasyprint.formatting_structure.boxes import BlockBox

    slots: list[Placed] = []
    stamps: list[Placed] = []
    for box in page._page_box.descendants():
        if type(box) is not BlockBox or box.element is None:
            continue
        slot_key = box.element.get("data-stamp")
        stamp_key = box.element.get("data-stamp-box")
        if slot_key or stamp_key:
            found = Placed(
                slot_key or stamp_key,
                box.border_box_x(),
                box.border_box_y(),
                box.border_width(),
                box.border_height(),
            )
            (slots if slot_key else stamps).append(found)
    return slots, stamps


def stamped(
    splitter: Splitter,
    pages: list[int],
    slots: list[list[Placed]],
    stamp_pages: dict[str, tuple[int, Placed]],
) -> tuple[dict[int, Any], list[Any]]:
    """The stamps of a document's ``pages`` drawn in their slots: its pages written with
    the stamps' forms (``replaced``, by object number) and the objects of its own
    (``added``: each stamp's form once, and the lines that draw them), for
    :meth:`Splitter.document`."""
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    replaced: dict[int, Any] = {}
    added: list[Any] = []
    forms: dict[str, Any] = {}

    def new(obj: Any) -> Any:
        added.append(obj)
        return splitter.reference(splitter.next_number + len(added) - 1)

    def stream(data: bytes) -> Any:
        obj = DecodedStreamObject()
        obj.set_data(data)
        return obj

    for index in pages:
        if not slots[index]:
            continue
        number, page = splitter.page(index)
        shared: Any = page["/Resources"]
        resources = DictionaryObject({k: shared.raw_get(k) for k in shared})
        xobjects = DictionaryObject(dict(resources.get("/XObject") or {}))
        tail = ["Q"]
        for slot in slots[index]:
            stamp_index, box = stamp_pages[slot.key]
            if abs(box.width - slot.width) > 0.01:
                raise ValueError(
                    f"tampon {slot.key} : emplacement de {slot.width} px pour un tampon "
                    f"de {box.width} px (un tampon se place au premier niveau d'une section)"
                )
            if slot.key not in forms:
                forms[slot.key] = new(_form(splitter, stamp_index))
            name = f"/Stamp{slot.key}"
            xobjects[NameObject(name)] = forms[slot.key]
            dx, dy = (slot.x - box.x) * PT, -(slot.y - box.y) * PT
            tail.append(f"q 1 0 0 1 {dx:.4f} {dy:.4f} cm {name} Do Q")
        resources[NameObject("/XObject")] = xobjects
        copy = DictionaryObject({k: page.raw_get(k) for k in page})
        copy[NameObject("/Resources")] = resources
        copy[NameObject("/Contents")] = ArrayObject(
            [new(stream(b"q\n")), page.raw_get("/Contents"), new(stream("\n".join(tail).encode()))]
        )
        replaced[number] = copy
    return replaced, added


def _form(splitter: Splitter, index: int) -> Any:
    """A stamp's page of the pass as a form XObject: its drawing, its resources."""
    from pypdf.generic import ArrayObject, EncodedStreamObject, FloatObject, NameObject

    page: Any = splitter.reader.pages[index]
    contents: Any = page["/Contents"]
    form = EncodedStreamObject()
    form._data = contents._data
    for key in contents:
        if key != "/Length":
            form[NameObject(key)] = contents.raw_get(key)
    form[NameObject("/Type")] = NameObject("/XObject")
    form[NameObject("/Subtype")] = NameObject("/Form")
    form[NameObject("/BBox")] = ArrayObject(FloatObject(v) for v in page.mediabox)
    form[NameObject("/Resources")] = page.raw_get("/Resources")
    return form
