"""Small helpers of the test suite: forms' CSRF tokens, links in emails."""

from __future__ import annotations

import re
from email.message import EmailMessage

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_LINK = re.compile(r"https?://\S+/invitation/\S+")


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def invitation_link(message: EmailMessage) -> str:
    match = _LINK.search(text_body(message))
    assert match, "no invitation link in the email"
    return match.group(0)
