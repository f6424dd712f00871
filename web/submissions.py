"""Forms that start work, done once per rendering (:mod:`workflows.submissions`): the
hidden field of each rendering, and what a view does with it.

A template puts ``{{ submission_field() }}`` in the form; the view::

    once = Submission(staff_owner(principal.id))
    with rt.engine.transaction() as tx:
        if once.claim(tx.session):
            ...  # the work
            once.done(tx.session, url_for(...), flashes=[("success", "...")])
    if once.replayed:
        return once.replay()  # the first submission's messages and page

or, for the common case of one message then a page, ``return once.run(engine, work, url)``.

A form posted without the field (an old page, a script) works as before, once per post.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, abort, flash, redirect, request
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from workflows import submissions
from workflows.engine.engine import Engine, UnitOfWork
from workflows.models import Mandataire
from workflows.password_hashing import verify_password

FIELD = "submission"
#: The fields of the password pages, which a digest never takes in.
PASSWORD_FIELDS = ("password", "confirmation")


def field() -> Markup:
    """The hidden input of one form rendering: a new token each time."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        FIELD, submissions.new_token()
    )


def staff_owner(staff_id: int) -> str:
    return f"staff:{staff_id}"


def mandataire_owner(mandataire_id: int) -> str:
    return f"mandataire:{mandataire_id}"


def link_owner(link: str) -> str:
    """Whoever holds an emailed link (the password pages, before any login)."""
    return "link:" + hashlib.sha256(link.encode()).hexdigest()[:32]


class Submission:
    """This request's submission of a form that starts work.

    Only the same content counts as a repeat: a form sent again with other values (the
    back button, a field changed, « Envoyer ») is a new submission, done as if it had no
    token. ``secret`` names fields kept out of that comparison, never stored even
    hashed (passwords: see :func:`same_password`)."""

    def __init__(self, owner: str, *, secret: Iterable[str] = ()) -> None:
        self.owner = owner
        self.token = submissions.as_token(request.form.get(FIELD))
        self.digest = _digest({"csrf_token", FIELD, *secret})
        #: What the first submission answered, once this one turns out to be a repeat.
        self.result: dict[str, Any] | None = None

    @property
    def replayed(self) -> bool:
        return self.result is not None

    def earlier(
        self, session: Session, same: Callable[[Session, dict[str, Any]], bool] | None = None
    ) -> bool:
        """Whether the form was submitted already (read only; :meth:`claim` still
        decides, in the transaction of the work); ``same`` checks what the digest
        leaves out."""
        if self.token is not None:
            self.result = self._checked(submissions.earlier, session)
            if self.result is not None and same is not None and not same(session, self.result):
                self._forget()
        return self.replayed

    def claim(self, session: Session) -> bool:
        """``True`` when this submission is the first: do the work, then :meth:`done`."""
        if self.token is not None:
            self.result = self._checked(submissions.claim, session)
        return not self.replayed

    def done(
        self,
        session: Session,
        url: str,
        *,
        flashes: Iterable[tuple[str, str]] = (),
        **data: Any,
    ) -> None:
        """Record the first submission's answer: the page it leads to, its messages."""
        if self.token is not None:
            result = {"url": url, "flashes": [list(f) for f in flashes], **data}
            submissions.record(session, self.token, {**result, "digest": self.digest})

    def run(
        self, engine: Engine, work: Callable[[UnitOfWork], tuple[str, str]], url: str
    ) -> Response:
        """Do ``work`` once, in one transaction of ``engine``: it returns the message
        (category, text) shown on the page ``url`` it leads to, a repeat gets the first
        one's. What ``work`` raises rolls it back and reaches the caller."""
        with engine.transaction() as tx:
            if self.claim(tx.session):
                said = work(tx)
                self.done(tx.session, url, flashes=[said])
        if self.replayed:
            return self.replay()
        flash(said[1], said[0])
        return redirect(url)

    def replay(self) -> Response:
        """The first submission's answer again: its messages, then its page."""
        assert self.result is not None
        for category, message in self.result.get("flashes", []):
            flash(message, category)
        return redirect(self.result.get("url") or "/", 303)

    def _checked(self, look_up: Any, session: Session) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] | None = look_up(session, self.token, self.owner)
        except submissions.ForeignSubmission:
            abort(403)
        if found is not None and found.get("digest") != self.digest:
            self._forget()  # other values: not a repeat, a new submission
            return None
        return found

    def _forget(self) -> None:
        self.token, self.result = None, None


def _digest(left_out: set[str]) -> str:
    """The posted values (files by name and size) but ``left_out``, as one hash."""
    values = sorted((k, v) for k, v in request.form.items(multi=True) if k not in left_out)
    files = sorted(
        (k, f.filename or "", f.content_length or 0)
        for k, f in request.files.items(multi=True)
        if k not in left_out
    )
    return hashlib.sha256(repr((values, files)).encode()).hexdigest()


def same_password(session: Session, result: dict[str, Any]) -> bool:
    """For the password pages, whose digest leaves the password out: a repeat only when
    the password typed is the one the first submission saved (``mandataire=`` id)."""
    person = session.get(Mandataire, result.get("mandataire"))
    typed = request.form.get("password", "")
    return person is not None and verify_password(person.password_hash, typed)


def init_app(app: Flask) -> None:
    """``submission_field()`` in every template."""
    app.jinja_env.globals["submission_field"] = field
