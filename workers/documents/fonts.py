"""The fonts the lines of a document are drawn with (:mod:`workers.documents.lines`):
the font file WeasyPrint would use for a style (fontconfig chooses it for both), cut
down to the characters French documents use, embedded in each PDF that draws with it.

A line is drawn as WeasyPrint draws text: a CID font (``Identity-H``, each character a
glyph number, two bytes), its widths, and a ``ToUnicode`` map so that its text is text
(extracted, searched, copied). The subset is made once per process and style (~0.2 s)
and holds about 250 glyphs: 11 KB compressed for DejaVu Sans. A character it does not
hold is not drawn: the document is laid out by WeasyPrint instead (:meth:`LineFont.fits`).
"""

from __future__ import annotations

import io
import subprocess
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Any

#: What a line may hold: Windows-1252's characters (French, and the western European
#: names a class or a school may carry) and the spaces French typography puts in them.
CHARSET = frozenset(
    bytes(range(0x20, 0x7F)).decode()
    + bytes(range(0xA0, 0x100)).decode("latin-1")
    + "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
    + "\u202f\u2009\u2011\u2212"
)
#: The PDF's name for the subset (six capitals, then the font's name).
TAG = "CFLINE"


@dataclass(frozen=True)
class Style:
    """What WeasyPrint laid a line out with: the font's family, weight and style."""

    family: tuple[str, ...]
    weight: int
    italic: bool

    def pattern(self) -> str:
        """The fontconfig pattern of this style (``DejaVu Sans:weight=200``)."""
        families = ",".join(f.replace("-", r"\-").replace(":", r"\:") for f in self.family)
        # fontconfig's weights: 80 regular, 200 bold (CSS 400 and 700).
        weight = 80 if self.weight < 550 else 200
        return f"{families}:weight={weight}:slant={100 if self.italic else 0}"


class LineFont:
    """A font file's subset: its glyphs for :data:`CHARSET`, their widths, and the PDF
    objects that embed it."""

    def __init__(self, path: str) -> None:
        from fontTools import subset
        from fontTools.ttLib import TTFont

        font = TTFont(path)
        options = subset.Options()
        options.hinting = False
        options.layout_features = []
        options.name_IDs = [1, 2]
        options.notdef_outline = True
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "MATH", "FFTM"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[ord(c) for c in CHARSET])
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
        self.data = out.getvalue()
        order = {name: gid for gid, name in enumerate(font.getGlyphOrder())}
        cmap = font.getBestCmap()
        self.glyphs: dict[str, int] = {
            chr(code): order[name] for code, name in cmap.items() if chr(code) in CHARSET
        }
        units = font["head"].unitsPerEm
        metrics = font["hmtx"].metrics
        #: Advance of each glyph, in thousandths of the font size (PDF text space).
        self.widths = [metrics[name][0] * 1000 / units for name in font.getGlyphOrder()]
        self._advance = {c: self.widths[g] for c, g in self.glyphs.items()}
        self._hex = {c: b"%04X" % g for c, g in self.glyphs.items()}
        head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
        scale = 1000 / units
        self.bbox = [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]
        self.ascent = round(hhea.ascent * scale)
        self.descent = round(hhea.descent * scale)
        self.cap_height = round(getattr(os2, "sCapHeight", hhea.ascent) * scale)
        self.italic_angle = float(font["post"].italicAngle)
        self.name = font["name"].getDebugName(6) or "Font"

    def fits(self, text: str) -> bool:
        """Whether every character of ``text`` is in the subset."""
        return all(c in self._advance for c in text)

    def width(self, text: str, size: float) -> float:
        """The advance of ``text`` at ``size`` (points), without kerning: a little
        wider than WeasyPrint's, never narrower."""
        advance = self._advance
        return sum([advance[c] for c in text]) * size / 1000

    def measure(self, text: str, size: float) -> float | None:
        """:meth:`width`, or None when a character is not in the subset."""
        try:
            return self.width(text, size)
        except KeyError:
            return None

    def encode(self, text: str) -> bytes:
        """``text`` as a PDF hex string of glyph numbers (``Identity-H``)."""
        hexes = self._hex
        return b"<" + b"".join([hexes[c] for c in text]) + b">"

    def objects(self, first: int) -> list[Any]:
        """The PDF objects of the font, numbered from ``first``: the ``Type0`` font (the
        one a page's resources name), its CID font, descriptor, file and ``ToUnicode``."""
        from pypdf.generic import (
            ArrayObject,
            DictionaryObject,
            EncodedStreamObject,
            FloatObject,
            IndirectObject,
            NameObject,
            NumberObject,
        )

        def ref(n: int) -> IndirectObject:
            return IndirectObject(first + n, 0, None)

        def name(value: str) -> NameObject:
            return NameObject(f"/{value}")

        def stream(data: bytes, **extra: Any) -> EncodedStreamObject:
            obj = EncodedStreamObject()
            obj._data = zlib.compress(data, 6)
            obj[NameObject("/Filter")] = NameObject("/FlateDecode")
            for key, value in extra.items():
                obj[NameObject(f"/{key}")] = value
            return obj

        base = name(f"{TAG}+{self.name.replace(' ', '')}")
        type0 = DictionaryObject(
            {
                name("Type"): name("Font"),
                name("Subtype"): name("Type0"),
                name("BaseFont"): base,
                name("Encoding"): name("Identity-H"),
                name("DescendantFonts"): ArrayObject([ref(1)]),
                name("ToUnicode"): ref(4),
            }
        )
        cid = DictionaryObject(
            {
                name("Type"): name("Font"),
                name("Subtype"): name("CIDFontType2"),
                name("BaseFont"): base,
                name("CIDSystemInfo"): DictionaryObject(
                    {
                        name("Registry"): _text("Adobe"),
                        name("Ordering"): _text("Identity"),
                        name("Supplement"): NumberObject(0),
                    }
                ),
                name("FontDescriptor"): ref(2),
                name("CIDToGIDMap"): name("Identity"),
                name("W"): ArrayObject(
                    [
                        NumberObject(0),
                        ArrayObject(FloatObject(round(w, 2)) for w in self.widths),
                    ]
                ),
            }
        )
        descriptor = DictionaryObject(
            {
                name("Type"): name("FontDescriptor"),
                name("FontName"): base,
                name("Flags"): NumberObject(4 | (64 if self.italic_angle else 0)),
                name("FontBBox"): ArrayObject(NumberObject(v) for v in self.bbox),
                name("ItalicAngle"): FloatObject(self.italic_angle),
                name("Ascent"): NumberObject(self.ascent),
                name("Descent"): NumberObject(self.descent),
                name("CapHeight"): NumberObject(self.cap_height),
                name("StemV"): NumberObject(80),
                name("FontFile2"): ref(3),
            }
        )
        font_file = stream(self.data, Length1=NumberObject(len(self.data)))
        return [type0, cid, descriptor, font_file, stream(self._to_unicode())]

    def _to_unicode(self) -> bytes:
        pairs = sorted((g, c) for c, g in self.glyphs.items())
        lines = [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            f"/CMapName /{TAG}-UCS def",
            "/CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange",
        ]
        for start in range(0, len(pairs), 100):
            chunk = pairs[start : start + 100]
            lines.append(f"{len(chunk)} beginbfchar")
            lines += [f"<{g:04X}> <{ord(c):04X}>" for g, c in chunk]
            lines.append("endbfchar")
        lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
        return "\n".join(lines).encode()


def _text(value: str) -> Any:
    from pypdf.generic import TextStringObject

    return TextStringObject(value)


@cache
def font_for(style: Style) -> LineFont:
    """The subset of the file fontconfig gives for ``style`` (as it does to WeasyPrint)."""
    found = subprocess.run(
        ["fc-match", "--format=%{file}", style.pattern()],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    if not found:
        raise RuntimeError(f"aucune police pour {style.pattern()}")
    return LineFont(found)
