"""Stored PDFs joined into one, in order: staff print « the day's letters » to La Banque
Postale at once. Each letter keeps its own page numbers (« Page 1 / 2 » is printed on
it); ``two_sided`` starts each one on a new sheet when printed on both sides."""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError

NOTHING = "Aucun document à joindre."
UNREADABLE = "Le document n° {n} n'est pas un PDF lisible."


def join_pdfs(pdfs: list[bytes], *, two_sided: bool = False) -> bytes:
    """One PDF of every page of ``pdfs``, in order; with ``two_sided``, a blank page
    (of the size of the last one) after each document but the last whose page count is
    odd. ValueError, in French, when there is none or one is not a readable PDF."""
    if not pdfs:
        raise ValueError(NOTHING)
    writer = PdfWriter()
    for n, pdf in enumerate(pdfs, start=1):
        try:
            reader = PdfReader(io.BytesIO(pdf))
            pages = list(reader.pages)
        except (PdfReadError, ValueError, OSError) as exc:
            raise ValueError(UNREADABLE.format(n=n)) from exc
        if not pages:
            raise ValueError(UNREADABLE.format(n=n))
        for page in pages:
            writer.add_page(page)
        if two_sided and len(pages) % 2 and n < len(pdfs):
            last = pages[-1].mediabox
            writer.add_blank_page(width=last.width, height=last.height)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
