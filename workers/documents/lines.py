"""Lines: the text that differs from one document to the next (a coop's name, its
classes, its fee), drawn over a *skeleton* laid out once for every document of its
shape.

Laying out a line costs WeasyPrint about 0.7 ms (shaping it with Pango, breaking it,
drawing it), and an affiliation document has some twenty lines of its own: most of a
render. A template wraps such a line in ``{% call line() %}…{% endcall %}``, the only
content of its block (``<div class="line">{% call line() %}…{% endcall %}</div>``).
The documents whose templates give the same HTML once their lines are taken out share
a skeleton: that HTML laid out by WeasyPrint, each line an empty slot of one line's
height (:data:`SLOT`), whose place, width and font are read from the layout
(:func:`slots_on`). Each document is then its skeleton's pages with its lines drawn in
their slots, in the font WeasyPrint uses for them (:mod:`workers.documents.fonts`).

A line must fit its slot: on one line, in characters the font's subset holds. A
document with a line that does not fit is laid out whole by WeasyPrint, as any
document was before skeletons (:func:`filled`): nothing is ever cut or wrapped wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from workers.documents.fonts import Style, font_for

_TOKEN = re.compile(r"<!--line:(\d+)-->")
#: A line's place in a skeleton: one non-breaking space, which WeasyPrint lays out as a
#: line of the block's font and height and does not draw.
SLOT = '<span data-line="{n}">\u00a0</span>'
#: CSS's white space, collapsed in a line as CSS would (not the non-breaking spaces).
_WHITE = re.compile(r"[ \t\n\r\f]+")
#: CSS px to PDF points.
PT = 0.75


@dataclass
class Lines:
    """The lines of one document, in the order its template gives them (the ``line``
    given to the template)."""

    texts: list[str] = field(default_factory=list)

    def __call__(self, caller: Any) -> Markup:
        text = _WHITE.sub(" ", Markup(caller()).unescape()).strip(" ")
        self.texts.append(text)
        return Markup(f"<!--line:{len(self.texts) - 1}-->")


def has_lines(html: str) -> bool:
    return "<!--line:" in html


def skeleton_of(html: str) -> str:
    """``html`` with a slot in place of each line."""
    return _TOKEN.sub(lambda m: SLOT.format(n=m.group(1)), html)


def filled(html: str, texts: list[str]) -> str:
    """``html`` with each line's text in place (a non-breaking space for an empty one,
    so that the block keeps the height its slot has)."""
    return _TOKEN.sub(lambda m: str(escape(texts[int(m.group(1))])) or "\u00a0", html)


@dataclass(frozen=True)
class Slot:
    """Where a line is drawn on its page: the start of its baseline and the width to
    the right edge of its block (PDF points, from the bottom left), its font and colour."""

    line: int
    x: float
    y: float
    width: float
    style: Style
    size: float
    color: tuple[float, float, float]


def slots_on(page: Any) -> list[Slot]:
    """The slots laid out on a WeasyPrint page (its box tree), in the page's order."""
    from weasyprint.formatting_structure.boxes import BlockBox, InlineBox, TextBox

    found: list[Slot] = []
    height = page.height

    def walk(box: Any, block: Any) -> None:
        if isinstance(box, BlockBox):
            block = box
        if isinstance(box, InlineBox) and box.element is not None:
            number = box.element.get("data-line")
            if number is not None:
                text = next((c for c in box.children if isinstance(c, TextBox)), None)
                if text is None or block is None:
                    raise ValueError(f"ligne {number} sans texte dans la mise en page")
                left = block.content_box_x()
                if abs(text.position_x - left) > 0.01:
                    raise ValueError(
                        f"ligne {number} : une ligne est le seul contenu de son bloc "
                        "({% call line() %} dans un bloc à elle)"
                    )
                style = text.style
                color = style["color"].to("srgb")
                found.append(
                    Slot(
                        int(number),
                        text.position_x * PT,
                        (height - text.position_y - text.baseline) * PT,
                        (left + block.width - text.position_x) * PT,
                        Style(
                            tuple(style["font_family"]),
                            int(style["font_weight"]),
                            style["font_style"] != "normal",
                        ),
                        style["font_size"] * PT,
                        (color.coordinates[0], color.coordinates[1], color.coordinates[2]),
                    )
                )
                return
        for child in getattr(box, "children", ()):
            walk(child, block)

    walk(page._page_box, None)
    return found


def draw(slot: Slot, text: str, fonts: dict[Style, str]) -> bytes | None:
    """The operators that draw ``text`` in ``slot`` (``fonts``: each style's resource
    name), or None when it does not fit (a character the font lacks, or too wide)."""
    if not text:
        return b""
    font = font_for(slot.style)
    width = font.measure(text, slot.size)
    if width is None or width > slot.width:
        return None
    r, g, b = slot.color
    return (
        f"BT /{fonts[slot.style]} {slot.size:.4g} Tf {r:.4f} {g:.4f} {b:.4f} rg "
        f"{slot.x:.3f} {slot.y:.3f} Td ".encode()
        + font.encode(text)
        + b" Tj ET\n"
    )
