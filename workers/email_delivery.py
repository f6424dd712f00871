"""Delivering emails exactly once per step (what they say: :mod:`workers.email_messages`).

The message is written to the ``emails`` table (status ``sending``) in the same
transaction as whatever it links to, before the mail server is contacted; a
redelivered step finds that row and never composes a second, different message. If the
first attempt may have reached the server (see :func:`deliver_many`), the relay's report on
its Message-ID decides whether the very same message goes out again.

The row holds the placeholders of its links (:meth:`workflows.links.Links.placeholder`),
never a working link: their signed tokens are put in, in memory only, when the message
is handed to the server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from workers.email_messages import Composed, mime_message
from workers.providers.mail import Mailer
from workers.providers.mail.errors import MailDeferred, MailRefused, MailRejected, MailUnavailable
from workflows.engine.engine import Engine
from workflows.engine.errors import StepPostponed
from workflows.links import Links
from workflows.models import Email, EmailStatus, table

if TYPE_CHECKING:
    from workers.context import StepContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    status: str
    to: str
    error: str | None = None

    @property
    def refused(self) -> bool:
        return self.status == EmailStatus.REFUSED.value


#: Composes the emails of the keys given (those not stored yet), in the transaction
#: that stores them: an email, or the error of its step when it cannot be composed (and
#: nothing was written for it). Raising fails the whole batch, written nothing.
BuildMany = Callable[[Session, list[str]], dict[str, "Composed | Exception"]]


def deliver_for_step(ctx: StepContext, build: Callable[[Session], Composed]) -> Delivery:
    """Send the email of the running step once (its idempotency key): ``build`` runs in
    the transaction that stores the message, only the first time, and what it raises
    is raised here, nothing written; so is the error of the sending."""
    (result,) = deliver_for_steps([ctx], lambda session, keys: {keys[0]: build(session)})
    if isinstance(result, Exception):
        raise result
    assert result is not None  # no deadline: tried
    return result


def deliver_for_steps(
    ctxs: list[StepContext], build: BuildMany, deadline: float | None = None
) -> list[Delivery | Exception | None]:
    """:func:`deliver_many` the emails of steps run together, in their order."""
    return deliver_keys(ctxs[0], [ctx.step.idempotency_key for ctx in ctxs], build, deadline)


def deliver_keys(
    ctx: StepContext, keys: list[str], build: BuildMany, deadline: float | None = None
) -> list[Delivery | Exception | None]:
    """:func:`deliver_many` with the services of a running step, for keys of its own: a
    step that writes to several people sends one email each, under keys it derives from
    its idempotency key."""
    services = ctx.services
    return deliver_many(
        services.engine,
        services.mailer,
        keys=keys,
        sender=services.settings.mail_from,
        build=build,
        report_wait=timedelta(seconds=services.settings.mail_report_wait_seconds),
        deadline=deadline,
        links=services.links,
    )


#: Shown on a step waiting for the relay's report of a message it may have sent.
UNCERTAIN = (
    "Envoi incertain : l'envoi précédent a été interrompu pendant la remise du message au "
    "serveur de messagerie ; en attente du rapport du serveur avant de le renvoyer."
)

_EMAILS = table(Email)


def deliver_many(
    engine: Engine,
    mailer: Mailer,
    *,
    keys: list[str],
    sender: str,
    build: BuildMany,
    report_wait: timedelta = timedelta(0),
    deadline: float | None = None,
    links: Links | None = None,
) -> list[Delivery | Exception | None]:
    """Send the emails of idempotency ``keys`` once each; one result per key, in order.

    One transaction reads the emails already stored, stores the others (``build``
    composes them, only the first time) and marks every one about to go out
    ``handed_at``; then each is handed to the server; then one transaction records the
    server's answers. ``handed_at`` committed before the server is contacted, and
    cleared when the server certainly did not keep the message, means, found still set
    by a later run, that an earlier one died (or lost the connection) while handing it
    over: the server may have it. That run then waits up to ``report_wait`` for the
    relay's report on the Message-ID (``workflows.delivery_reports`` marks the email sent),
    and sends again only if none came: the relay never had the message. Without reports
    (``report_wait`` zero) it sends again at once, and the receiver may get the same
    message (same Message-ID) twice.

    Once the server is unavailable (anything but one recipient put off), the emails
    left are not tried: their steps retry later. Past ``deadline`` (``time.monotonic``)
    the ones left are not tried either, and their result is ``None``.

    ``links`` puts the signed tokens in place of the stored placeholders of the messages
    handed over (what is stored keeps its placeholders).
    """
    results: dict[str, Delivery | Exception | None] = {}
    with engine.transaction() as tx:
        outgoing = _store(tx.session, tx.now, keys, build, report_wait, results)
        if links is not None:
            outgoing = _with_links(tx.session, links, outgoing)
    answers: list[dict[str, Any]] = []
    not_handed: list[int] = []
    unavailable: MailUnavailable | None = None
    for index, email in enumerate(outgoing):
        key = email["idempotency_key"]
        if unavailable is not None or (
            index and deadline is not None and time.monotonic() > deadline
        ):
            not_handed.append(email["id"])
            results[key] = _not_tried(unavailable)
            continue
        try:
            mailer.send(mime_message(email, sender))
        except MailRefused as exc:
            answers.append(_answer(email, EmailStatus.REFUSED.value, str(exc)))
            log.warning("email refused", extra=_log_extra(email))
            results[key] = Delivery(EmailStatus.REFUSED.value, email["to_address"], str(exc))
        except (MailUnavailable, MailRejected) as exc:
            if not (isinstance(exc, MailUnavailable) and exc.uncertain):
                not_handed.append(email["id"])  # the server answered: it does not have it
            if isinstance(exc, MailUnavailable) and not isinstance(exc, MailDeferred):
                unavailable = exc
            results[key] = exc
        except Exception as exc:
            # Whatever else broke, the server may have the message: kept handed.
            results[key] = exc
        else:
            answers.append(_answer(email, mailer.delivered_status, None))
            log.info("email delivered", extra=_log_extra(email))
            results[key] = Delivery(mailer.delivered_status, email["to_address"])
    if answers or not_handed:
        _record_after_send(engine, answers, not_handed)
    return [results[key] for key in keys]


def _store(
    session: Session,
    now: datetime,
    keys: list[str],
    build: BuildMany,
    report_wait: timedelta,
    results: dict[str, Delivery | Exception | None],
) -> list[dict[str, Any]]:
    """Read or store the emails of ``keys``; those to send now, marked handed.
    The others' results are set: their status, or the error of their step."""
    emails = _EMAILS.c
    found: dict[str, dict[str, Any]] = {
        row.idempotency_key: dict(row._mapping)
        for row in session.execute(select(_EMAILS).where(emails.idempotency_key.in_(keys)))
    }
    missing = [key for key in dict.fromkeys(keys) if key not in found]
    stored_now: set[str] = set()
    if missing:
        built = build(session, missing)
        new = []
        for key in missing:
            composed = built[key]
            if isinstance(composed, Exception):
                results[key] = composed
                continue
            new.append(_new_email(key, composed, now))
        if new:
            ids = session.execute(
                insert(_EMAILS).returning(emails.id, sort_by_parameter_order=True), new
            ).scalars()
            for row, email_id in zip(new, ids, strict=True):
                found[row["idempotency_key"]] = {**row, "id": email_id}
                stored_now.add(row["idempotency_key"])
    outgoing, again = [], []
    for key in dict.fromkeys(keys):
        email = found.get(key)
        if email is None:
            continue  # its build failed
        if email["status"] != EmailStatus.SENDING.value:
            results[key] = Delivery(email["status"], email["to_address"], email["error"])
            continue
        if key not in stored_now:  # stored by an earlier run: marked handed again
            if email["handed_at"] is not None:
                try:
                    _wait_for_report(email, now, report_wait)
                except StepPostponed as waiting:
                    results[key] = waiting
                    continue
            again.append(email["id"])
        outgoing.append(email)
    if again:
        session.execute(update(_EMAILS).where(emails.id.in_(again)).values(handed_at=now))
    return outgoing


def _with_links(
    session: Session, links: Links, outgoing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The emails to hand over, their links' tokens put in (the rows keep placeholders)."""
    bodies = [body for email in outgoing for body in (email["text_body"], email["html_body"])]
    revealed = iter(links.reveal(session, bodies))
    return [
        {**email, "text_body": next(revealed), "html_body": next(revealed)} for email in outgoing
    ]


def _new_email(key: str, composed: Composed, now: datetime) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "kind": composed.kind,
        "case_id": composed.case_id,
        "coop_id": composed.coop_id,
        "to_address": composed.to,
        "subject": composed.subject,
        "text_body": composed.text,
        "html_body": composed.html,
        "message_id": make_msgid(domain="coopflow.occe.coop"),
        "status": EmailStatus.SENDING.value,
        "handed_at": now,
        "error": None,
        "created_at": now,
        "sent_at": None,
    }


def _not_tried(unavailable: MailUnavailable | None) -> MailUnavailable | None:
    if unavailable is None:
        return None
    return MailUnavailable(
        f"non envoyé, le serveur a échoué sur un message précédent : {unavailable}"
    )


def _answer(email: dict[str, Any], status: str, error: str | None) -> dict[str, Any]:
    return {"email_id": email["id"], "answer": status, "answer_error": error}


def _log_extra(email: dict[str, Any]) -> dict[str, Any]:
    return {"email_id": email["id"], "case_id": email["case_id"]}


def _wait_for_report(email: dict[str, Any], now: datetime, report_wait: timedelta) -> None:
    """Postpone the step while the relay may still report the message handed over."""
    waited = now - email["handed_at"]
    if waited < report_wait:
        raise StepPostponed(UNCERTAIN, min(report_wait - waited, report_poll(report_wait)))
    log.warning(
        "email sent again: no report of the previous attempt",
        extra={**_log_extra(email), "waited_s": waited.total_seconds()},
    )


def report_poll(report_wait: timedelta) -> timedelta:
    """How often a step waiting for the relay's report looks again."""
    return min(max(report_wait / 10, timedelta(seconds=1)), timedelta(seconds=60))


#: Pause between two attempts at recording what the mail server answered.
RECORD_RETRY_SECONDS = 0.5


def _record_after_send(
    engine: Engine, answers: list[dict[str, Any]], not_handed: list[int]
) -> None:
    """Record the server's answers, waiting out a database outage (restart, failover).

    The server has the messages now: if recording failed for good, their steps would be
    delivered again, find the emails still ``sending`` and send them a second time
    (found by the fault-injection suite: a PostgreSQL restart re-sent the emails in
    flight). Nobody can take the steps over while the database is down, so trying for as
    long as this run's lease covers it closes that window but for a crash of the process.
    (If the ``not_handed`` ones cannot be recorded, their next run waits for a report
    that will not come, then sends: late, never twice.)
    """
    deadline = time.monotonic() + engine.timing.run_lease.total_seconds()
    while True:
        try:
            _record(engine, answers, not_handed)
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() + RECORD_RETRY_SECONDS > deadline:
                raise
            log.warning(
                "recording sent emails failed, retrying",
                extra={"email_ids": [answer["email_id"] for answer in answers]},
            )
            time.sleep(RECORD_RETRY_SECONDS)


_emails = _EMAILS.c
#: One conditional UPDATE per answer: a relay report (webhook) that came first and says
#: more (delivered, bounced) is never overwritten, even one committed meanwhile.
_ANSWER = (
    update(_EMAILS)
    .where(_emails.id == bindparam("email_id"), _emails.status == EmailStatus.SENDING.value)
    .values(status=bindparam("answer"), error=bindparam("answer_error"))
)


def _record(engine: Engine, answers: list[dict[str, Any]], not_handed: list[int]) -> None:
    with engine.transaction() as tx:
        if answers:
            sent = [{**a, "sent": tx.now if a["answer_error"] is None else None} for a in answers]
            tx.session.execute(_ANSWER.values(sent_at=bindparam("sent")), sent)
        if not_handed:
            # The server refused or never got these: a later run sends without waiting.
            tx.session.execute(
                update(_EMAILS)
                .where(_emails.id.in_(not_handed), _emails.status == EmailStatus.SENDING.value)
                .values(handed_at=None)
            )
