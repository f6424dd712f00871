"""What an email says: rendered from its templates (``templates/emails/<process>/<kind>``
``.txt`` and ``.html``; one that any process sends at ``templates/emails/<kind>.*``),
stored as it is (:mod:`workers.email_delivery`), sent as a MIME message."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from jinja2 import select_autoescape

from workers.templating import environment
from workflows.formatting import french_spacing

_templates = environment(
    "emails",
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Composed:
    """An email ready to be stored: who, what, and both bodies."""

    kind: str
    to: str
    subject: str
    text: str
    html: str
    case_id: int | None = None
    coop_id: int | None = None


def template_names(kind: str, process: str | None = None) -> tuple[str, str]:
    """The text and HTML templates of an email kind, in its process's folder if any."""
    stem = f"{process}/{kind}" if process else kind
    return f"{stem}.txt", f"{stem}.html"


def compose(
    kind: str, to: str, subject: str, *, process: str | None = None, **context: Any
) -> Composed:
    """Render the kind's text and HTML templates with the same context."""
    subject = french_spacing(subject)
    context = {"subject": subject, **context}
    text, html = template_names(kind, process)
    return Composed(
        kind=kind,
        to=to,
        subject=subject,
        text=_templates.get_template(text).render(context),
        html=_templates.get_template(html).render(context),
        case_id=context.get("case_id"),
        coop_id=context.get("coop_id"),
    )


def mime_message(email: dict[str, Any], sender: str) -> EmailMessage:
    """The message of a stored email (a row of ``emails``), text and HTML alternatives."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email["to_address"]
    message["Subject"] = email["subject"]
    message["Message-ID"] = email["message_id"]
    message["Date"] = format_datetime(email["created_at"])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email["text_body"])
    message.add_alternative(email["html_body"], subtype="html")
    return message
