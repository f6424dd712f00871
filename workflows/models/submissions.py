"""Forms that start work, submitted once: the first result of each form rendering."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.models.base import Base, JSONData, utcnow


class FormSubmission(Base):
    """A form rendering's one-time token, written in the transaction of the work the form
    started, with what its first submission answered: a second click (or a replay of
    the same form) is shown that answer instead of doing the work twice."""

    __tablename__ = "form_submissions"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Who submitted it (``staff:12``, ``mandataire:5``): nobody else is shown its result.
    owner: Mapped[str] = mapped_column(String(40))
    #: Where the first submission led, the messages it showed, and any page data.
    result: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
