"""A pass's PDF split into one PDF per document, with pypdf's objects.

``pypdf.PdfWriter().add_page`` per document copies (clones, then serializes) every
object its pages use, the pass's fonts among them: a few milliseconds a document, a
tenth of a pass. Here each object of the pass is read and serialized once
(:meth:`Splitter._serialized`), whichever documents use it, and each document's file is
assembled from those bytes: its pages, what they use (fonts, graphic states…), a page
tree, a catalogue, its title, a cross-reference table. Objects keep their numbers from
the pass (a document lists the others as free), so no reference is rewritten.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

#: Keys that point back up the page tree: never followed (the tree is written anew).
_UP = frozenset({"/Parent", "/P"})


class Splitter:
    """The pass's PDF, parsed once; :meth:`document` makes each document's file."""

    def __init__(self, pdf: bytes) -> None:
        self.reader = PdfReader(io.BytesIO(pdf))
        self._bytes: dict[int, bytes] = {}
        self._uses: dict[int, frozenset[int]] = {}
        first: Any = self.reader.pages[0]
        self.tree: int = first.raw_get("/Parent").idnum
        self.next_number = int(self.reader.trailer["/Size"])  # type: ignore[call-overload]

    def reference(self, number: int) -> IndirectObject:
        return IndirectObject(number, 0, self.reader)

    def page(self, index: int) -> tuple[int, Any]:
        """The object number of page ``index`` of the pass, and the page."""
        page: Any = self.reader.pages[index]
        return page.indirect_reference.idnum, page

    def get(self, number: int) -> Any:
        """Object ``number`` of the pass (parsed once by pypdf)."""
        return self.reader.get_object(number)

    def uses(self, number: int) -> frozenset[int]:
        """The objects ``number`` needs, itself included; memoised, and what a memoised
        object needs is not walked again (the pass's fonts: once a pass)."""
        found = self._uses.get(number)
        if found is not None:
            return found
        seen: set[int] = set()
        stack = [number]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            known = self._uses.get(current)
            if known is not None:
                seen |= known
                continue
            seen.add(current)
            stack.extend(_references(self.get(current)))
        self._uses[number] = frozenset(seen)
        return self._uses[number]

    def _serialized(self, number: int) -> bytes:
        found = self._bytes.get(number)
        if found is None:
            found = serialize(number, self.get(number))
            self._bytes[number] = found
        return found

    def document(
        self, pages: list[int], title: str, replaced: dict[int, Any], added: list[Any]
    ) -> bytes:
        """The PDF of the pass's ``pages`` (indexes), titled ``title``; ``replaced``:
        objects of the pass written otherwise in this document (a page with stamps),
        ``added``: objects of its own, numbered from ``next_number`` in order (their
        references must use those numbers)."""
        return self.frame(pages, replaced, added).finish([], title)

    def frame(
        self, pages: list[int], replaced: dict[int, Any], added: list[Any], reserved: int = 0
    ) -> Frame:
        """What :meth:`document` writes but ``reserved`` objects and the title: the part
        of a file that documents of one skeleton share (:mod:`workers.documents.skeletons`).
        The reserved objects are numbered after ``added``'s."""
        numbers = [self.page(i)[0] for i in pages]
        wanted: set[int] = set()
        for number in numbers:
            resources = self.get(number).raw_get("/Resources")
            if isinstance(resources, IndirectObject):
                wanted |= self.uses(resources.idnum)  # shared by the pass's pages
            wanted |= self.uses(number)
            if number in replaced:
                wanted |= set(_references(replaced[number]))
        wanted.discard(self.tree)
        own = {self.next_number + n: obj for n, obj in enumerate(added)}
        first_reserved = self.next_number + len(added)
        wanted -= set(own) | set(range(first_reserved, first_reserved + reserved))
        catalog = first_reserved + reserved
        kids = ArrayObject(IndirectObject(n, 0, self.reader) for n in numbers)
        tree = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Pages"),
                NameObject("/Kids"): kids,
                NameObject("/Count"): NumberObject(len(numbers)),
            }
        )
        root = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Catalog"),
                NameObject("/Pages"): IndirectObject(self.tree, 0, self.reader),
            }
        )
        out = io.BytesIO()
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets: dict[int, int] = {}
        for number in sorted(wanted):
            offsets[number] = out.tell()
            obj = replaced.get(number)
            out.write(serialize(number, obj) if obj is not None else self._serialized(number))
        for number, obj in [(self.tree, tree), *own.items(), (catalog, root)]:
            offsets[number] = out.tell()
            out.write(serialize(number, obj))
        return Frame(out.getvalue(), offsets, first_reserved, reserved, catalog)


@dataclass(frozen=True)
class Frame:
    """A document's file but for its own last objects and its title: ``body`` (the
    header and the objects at ``offsets``), ``reserved`` objects to come numbered from
    ``first_reserved``, the catalogue's number."""

    body: bytes
    offsets: dict[int, int]
    first_reserved: int
    reserved: int
    catalog: int

    def finish(self, objects: list[bytes], title: str) -> bytes:
        """The file, with the reserved ``objects`` (serialized, in order) and its title."""
        if len(objects) != self.reserved:
            raise ValueError(f"{len(objects)} objets pour {self.reserved} réservés")
        offsets = dict(self.offsets)
        parts = [self.body]
        at = len(self.body)
        for n, data in enumerate(objects):
            offsets[self.first_reserved + n] = at
            parts.append(data)
            at += len(data)
        info = self.catalog + 1
        meta = DictionaryObject(
            {
                NameObject("/Title"): TextStringObject(title),
                NameObject("/Producer"): TextStringObject("WeasyPrint, pypdf"),
            }
        )
        data = serialize(info, meta)
        offsets[info] = at
        parts.append(data)
        at += len(data)
        size = info + 1
        free = b"0000000000 65535 f \n"
        parts.append(f"xref\n0 {size}\n".encode())
        parts.append(
            b"".join(
                (f"{offsets[n]:010d} 00000 n \n".encode() if n in offsets else free)
                for n in range(size)
            )
        )
        parts.append(
            f"trailer\n<< /Size {size} /Root {self.catalog} 0 R /Info {info} 0 R >>\n"
            f"startxref\n{at}\n%%EOF\n".encode()
        )
        return b"".join(parts)


def serialize(number: int, obj: Any) -> bytes:
    """``N 0 obj … endobj`` of ``obj`` (a stream's length as its data's)."""
    out = io.BytesIO()
    out.write(f"{number} 0 obj\n".encode())
    if isinstance(obj, StreamObject):
        obj[NameObject("/Length")] = NumberObject(len(obj._data))
    obj.write_to_stream(out)
    out.write(b"\nendobj\n")
    return out.getvalue()


def _references(obj: Any) -> list[int]:
    """The object numbers ``obj`` refers to directly (not up the page tree)."""
    found: list[int] = []
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            found.append(item.idnum)
        elif isinstance(item, DictionaryObject):  # streams are dictionaries too
            stack.extend(v for k, v in item.items() if k not in _UP)
        elif isinstance(item, ArrayObject):
            stack.extend(item)
    return found
