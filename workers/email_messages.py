"""What an email says: rendered from its templates (``templates/emails/<process>/<kind>``
``.txt`` and ``.html``; one that any process sends at ``templates/emails/<kind>.*``),
stored as it is (:mod:`workers.email_delivery`), sent as a MIME message."""

from __future__ import annotations

from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, cast

from jinja2 import select_autoescape

from workers.templating import environment
from workflows.formatting import french_spacing

#: UTF-8 bodies in quoted-printable (the text stays readable in the raw message).
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP

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


def mime_message(email: dict[str, Any], sender: str) -> Message:
    """The message of a stored email (a row of ``emails``), text and HTML alternatives,
    UTF-8 in quoted-printable.

    Built with the standard library's ``email.mime`` classes (the ``compat32`` policy)
    rather than ``EmailMessage``: the default policy parses every header it is given
    into an object, and built and serialized that way a message cost 2.8 ms of a
    worker's CPU; this way 1.3 ms, for the same message once parsed (B6 sends 10,000)."""
    message = MIMEMultipart("alternative")
    name, address = parseaddr(sender)
    message["From"] = formataddr((name, address), charset="utf-8") if name else address
    message["To"] = email["to_address"]
    subject = email["subject"]
    # A Header object, which compat32 folds itself (its encoded string would be folded
    # again, a space added); typeshed only admits a str here.
    message["Subject"] = subject if subject.isascii() else cast(Any, Header(subject, "utf-8"))
    message["Message-ID"] = email["message_id"]
    message["Date"] = format_datetime(email["created_at"])
    message["Auto-Submitted"] = "auto-generated"
    message.attach(_text_part(email["text_body"], "plain"))
    message.attach(_text_part(email["html_body"], "html"))
    return message


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part.set_payload(text, _UTF8)
    return part
