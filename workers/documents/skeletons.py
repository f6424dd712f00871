"""Skeletons: a document's shape laid out once, each document of that shape its lines
drawn over it (:mod:`workers.documents.lines`).

A skeleton is the PDF WeasyPrint made of the shape (every line an empty slot), parsed
once: its objects serialized once, its pages given the line fonts and a last content
stream of their own (:class:`~workers.documents.split.Frame`). A document of the shape
is then that file with its pages' last streams (its lines) and its title: a fraction of
a millisecond, where laying it out took thirty.

The skeletons of a process are kept by their shape's key (the hash of its HTML), the
last used kept longest (:data:`KEPT`): a shape is a template with a given number of
classes and fee lines, a few hundred in a September.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

from workers.documents.fonts import Style, font_for
from workers.documents.lines import Slot, draw
from workers.documents.split import Splitter

#: Skeletons a process keeps (each ~50 KB: its PDF, parsed, and its objects' bytes).
KEPT = 512
_kept: OrderedDict[str, Skeleton] = OrderedDict()
#: A worker's threads share them.
_lock = threading.Lock()
#: The shapes a thread of this process is laying out now, each with the event set when
#: it is done: another thread that meets the shape waits instead of laying it out too
#: (at the start of a wave, every thread met the same new shapes at once).
_building: dict[str, threading.Event] = {}
#: How long a thread waits for another's layout before doing its own.
WAIT_SECONDS = 60.0


def key_of(skeleton_html: str) -> str:
    return hashlib.sha256(skeleton_html.encode()).hexdigest()


def known(key: str) -> Skeleton | None:
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
        return found


def keep(key: str, skeleton: Skeleton) -> None:
    with _lock:
        _kept[key] = skeleton
        _kept.move_to_end(key)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)


def claim(keys: list[str]) -> tuple[list[str], dict[str, threading.Event]]:
    """Of the shapes ``keys`` not kept: those this thread is to lay out (no other is
    doing it), and those another thread is laying out, with the event to wait on."""
    mine: list[str] = []
    theirs: dict[str, threading.Event] = {}
    with _lock:
        for key in keys:
            event = _building.get(key)
            if event is None:
                _building[key] = threading.Event()
                mine.append(key)
            else:
                theirs[key] = event
    return mine, theirs


def release(keys: list[str]) -> None:
    """The shapes ``keys`` claimed by this thread are laid out (or failed): the threads
    waiting for them look again."""
    with _lock:
        for key in keys:
            event = _building.pop(key, None)
            if event is not None:
                event.set()


def waited(key: str, event: threading.Event) -> Skeleton | None:
    """The skeleton another thread was laying out, once it is done (``None`` if it
    failed or took too long: the caller lays it out itself)."""
    event.wait(WAIT_SECONDS)
    return known(key)


def forget_all() -> None:
    """Drop the skeletons kept (tests that count WeasyPrint's passes)."""
    with _lock:
        _kept.clear()


class Skeleton:
    """A shape's PDF (``pdf``: WeasyPrint's, its lines empty) and where each of its
    ``lines`` lines is drawn (``slots``: per page, in order)."""

    def __init__(self, pdf: bytes, slots: list[list[Slot]], lines: int) -> None:
        numbers = sorted(slot.line for page in slots for slot in page)
        if numbers != list(range(lines)):
            raise ValueError(
                f"squelette : {lines} lignes attendues, emplacements trouvés {numbers}"
            )
        from pypdf.generic import (
            ArrayObject,
            DecodedStreamObject,
            DictionaryObject,
            IndirectObject,
            NameObject,
        )

        splitter = Splitter(pdf)
        pages = len(splitter.reader.pages)
        if pages != len(slots):
            raise ValueError(f"squelette : {pages} pages pour {len(slots)} relevées")
        styles = list(dict.fromkeys(slot.style for page in slots for slot in page))
        self.fonts: dict[Style, str] = {style: f"CFL{n}" for n, style in enumerate(styles)}
        added: list[Any] = []
        save = DecodedStreamObject()
        save.set_data(b"q\n")
        added.append(save)
        font_refs: dict[Style, Any] = {}
        for style in styles:
            first = splitter.next_number + len(added)
            font_refs[style] = IndirectObject(first, 0, splitter.reader)
            added.extend(font_for(style).objects(first))
        drawn = [index for index, on_page in enumerate(slots) if on_page]
        first_reserved = splitter.next_number + len(added)
        replaced: dict[int, Any] = {}
        for n, index in enumerate(drawn):
            number, page = splitter.page(index)
            shared: Any = page["/Resources"]
            resources = DictionaryObject({k: shared.raw_get(k) for k in shared})
            fonts = DictionaryObject(dict(resources.get("/Font") or {}))
            for style in dict.fromkeys(slot.style for slot in slots[index]):
                fonts[NameObject(f"/{self.fonts[style]}")] = font_refs[style]
            resources[NameObject("/Font")] = fonts
            copy = DictionaryObject({k: page.raw_get(k) for k in page})
            copy[NameObject("/Resources")] = resources
            copy[NameObject("/Contents")] = ArrayObject(
                [
                    IndirectObject(splitter.next_number, 0, splitter.reader),
                    *_contents(page),
                    IndirectObject(first_reserved + n, 0, splitter.reader),
                ]
            )
            replaced[number] = copy
        self.frame = splitter.frame(list(range(pages)), replaced, added, reserved=len(drawn))
        self.slots = [slots[index] for index in drawn]
        self.lines = lines

    def fill(self, texts: list[str], title: str) -> bytes | None:
        """The document of ``texts`` (one per line, in the template's order), or None
        when a line does not fit its slot."""
        if len(texts) != self.lines:
            raise ValueError(f"{len(texts)} lignes pour un squelette de {self.lines}")
        streams: list[bytes] = []
        for n, on_page in enumerate(self.slots):
            operators = [b"Q\n"]
            for slot in on_page:
                drawn = draw(slot, texts[slot.line], self.fonts)
                if drawn is None:
                    return None
                operators.append(drawn)
            data = b"".join(operators)
            number = self.frame.first_reserved + n
            streams.append(
                b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n"
                % (number, len(data), data)
            )
        return self.frame.finish(streams, title)


def _contents(page: Any) -> list[Any]:
    """The streams a page draws, as references (its ``/Contents``, an array or not)."""
    from pypdf.generic import ArrayObject, IndirectObject

    contents = page.raw_get("/Contents")
    if isinstance(contents, IndirectObject):
        resolved = contents.get_object()
        if isinstance(resolved, ArrayObject):
            return list(resolved)
        return [contents]
    if isinstance(contents, ArrayObject):
        return list(contents)
    raise ValueError("page sans contenu référencé")
