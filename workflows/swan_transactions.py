"""Swan's incoming transfers: La Banque Postale's balance arriving on a coop's account
fires ``funds_received`` on the coop's ``banque_postale_transfer`` case.

Swan's ``Transaction.Booked`` names only the transaction (``resourceId``), and no case
knows a transaction before it is read: so, unlike the membership events (a ``sync``
step on the case they name), a transaction event is read from Swan *in the webhook's
request*, before anything is kept, with a short timeout (one indexed read at Swan,
well inside the 10 s Swan waits). When Swan does not answer, nothing is kept and the
webhook answers 503: Swan delivers the event again (every 30 s, 7 times). When Swan
answers, the event is kept and the transaction matched, in one transaction:

- a SEPA credit transfer in, ``Booked``, in euros, above zero;
- on an account tied to a coop (``ProviderResource`` kind ``account``);
- whose transfer case waits for the funds (``ready_to_send`` or ``sent_to_bank``);
- sent by La Banque Postale: from the attested old account, or in La Banque Postale's
  name (a family's transfer to the coop is not its old balance);
- not recorded yet: the transaction is tied to the case (kind ``transaction``), so the
  same event twice, or two events for one transaction, fire once.

Anything else is kept and ignored with its French reason. The amount is compared with
the declared balance by the definition (beyond the AD's tolerance: stuck with both
amounts); the coop's disbursed advance is repaid by its effect, in this transaction.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from workflows import swan_events
from workflows.engine.engine import Engine, UnitOfWork
from workflows.engine.errors import ConflictError, PermanentStepError
from workflows.formatting import euros
from workflows.models import Case, ProviderResource, WebhookEvent
from workflows.processes.banque_postale_transfer import attestation
from workflows.processes.banque_postale_transfer import definition as transfer
from workflows.processes.iban.rib_checks import compact

log = logging.getLogger(__name__)

Applied = swan_events.Applied
DUPLICATE = Applied("duplicate", "Événement déjà reçu.")

#: Kinds of ``ProviderResource``: the coop's account, a transaction recorded on a case.
ACCOUNT, TRANSACTION = "account", "transaction"
#: Swan's ``TransactionTypeEnum`` values of a SEPA credit transfer received.
SEPA_IN = frozenset({"SepaCreditTransferIn", "SepaInstantCreditTransferIn"})
CREDIT, BOOKED, EUR = "Credit", "Booked", "EUR"
#: The transfer's states in which its funds are awaited (``funds_received`` from them).
AWAITING_FUNDS = (transfer.READY_TO_SEND, transfer.SENT_TO_BANK)
#: How La Banque Postale names itself as the debtor (compared without accents or case).
BANK_NAME = "BANQUE POSTALE"


@dataclass(frozen=True)
class Transaction:
    """A transaction as Swan answers ``transaction(id)``: the amount in integer cents
    (read from Swan's decimal string, never through a float), the execution date in
    Europe/Paris."""

    id: str
    account_id: str | None
    #: ``TransactionTypeEnum``: ``SepaCreditTransferIn``, ``CardOutDebit``…
    type: str
    #: ``Credit`` or ``Debit``.
    side: str
    #: ``TransactionStatus``: ``Booked``, ``Pending``, ``Rejected``…
    status: str
    amount_cents: int
    currency: str
    reference: str
    label: str
    debtor_name: str
    #: The debtor's IBAN when Swan gives it (SEPA transfers), compact.
    debtor_iban: str | None
    execution_date: date


class TransactionSource(Protocol):
    """Who answers ``transaction(id)``: any of Swan's adapters. Raises a
    :class:`~workflows.engine.errors.TransientStepError` when Swan does not answer and
    a :class:`~workflows.engine.errors.PermanentStepError` when it refuses."""

    def transaction(self, transaction_id: str) -> Transaction: ...


def receive(engine: Engine, event: swan_events.SwanEvent, swan: TransactionSource) -> Applied:
    """Everything ``/webhooks/swan`` (or an in-process delivery of the sandbox) does with
    an authenticated event: a transaction event read from Swan first (a
    ``TransientStepError`` leaves with nothing kept: answer 503), then the event kept
    once and applied, in one transaction."""
    apply: swan_events.Apply | None = None
    if event.event_type in swan_events.READ_FIRST:
        with engine.db.read() as session:
            seen = session.scalar(
                select(WebhookEvent.id).where(
                    WebhookEvent.source == swan_events.SOURCE,
                    WebhookEvent.event_id == event.event_id,
                )
            )
        if seen is not None:
            return DUPLICATE  # no second read at Swan for a redelivery
        read = _read(swan, event.resource_id)
        apply = partial(_apply, read)
    try:
        with engine.transaction() as tx:
            return swan_events.record(tx, event, apply=apply)
    except IntegrityError:
        # The same event, delivered twice at once: the other delivery kept it.
        return DUPLICATE


def _read(swan: TransactionSource, transaction_id: str) -> Transaction | str:
    """The transaction, or why Swan refused to say (kept as the event's reason)."""
    try:
        return swan.transaction(transaction_id)
    except PermanentStepError as refused:
        return f"Swan n'a pas donné ce virement : {refused}"


def _apply(
    read: Transaction | str, tx: UnitOfWork, event: swan_events.SwanEvent
) -> tuple[Applied, int | None]:
    """The event's transaction matched to the transfer case it pays (see the module's
    docstring); what became of it, and the case."""
    if isinstance(read, str):
        return _ignored(read), None
    why = _not_received(read)
    if why:
        return _ignored(why), None
    coop_id = tx.session.scalar(
        select(ProviderResource.coop_id).where(
            ProviderResource.provider == swan_events.PROVIDER,
            ProviderResource.kind == ACCOUNT,
            ProviderResource.resource_id == read.account_id,
        )
    )
    if coop_id is None:
        return _ignored("Compte Swan inconnu de coopflow."), None
    case_id = tx.session.scalar(
        select(Case.id)
        .where(Case.coop_id == coop_id, Case.process == transfer.PROCESS)
        .order_by(Case.id.desc())
        .limit(1)
    )
    if case_id is None:
        return _ignored("Aucun reversement du solde Banque Postale pour cette coopérative."), None
    # Locked before anything is read of it: two events for one transaction, delivered
    # at once, wait here for each other, and the second finds the first's work.
    case = tx.lock(case_id)
    if _recorded(tx, read.id):
        return _ignored("Virement déjà enregistré."), case.id
    label = tx.engine.definition(transfer.PROCESS).label(case.state)
    if case.state in (transfer.FUNDS_RECEIVED, transfer.CLOSED):
        return _ignored(f"Solde déjà reçu : dossier à l'état « {label} »."), case.id
    if case.state not in AWAITING_FUNDS:
        return _ignored(f"Aucun solde attendu : dossier à l'état « {label} »."), case.id
    if not from_the_bank(read, attestation.attestation_of(case).get("old_account")):
        return _ignored(
            f"Virement de « {read.debtor_name} » : il ne vient pas de La Banque Postale."
        ), case.id
    return _fire(tx, case, read, event), case.id


def _not_received(read: Transaction) -> str | None:
    """Why the transaction is not a transfer received (``None``: it is one)."""
    if read.side != CREDIT:
        return "Opération au débit du compte : pas un versement reçu."
    if read.type not in SEPA_IN:
        return f"Opération « {read.type} » : pas un virement SEPA reçu."
    if read.status != BOOKED:
        return f"Virement pas encore comptabilisé par Swan (statut « {read.status} »)."
    if read.currency != EUR:
        return f"Virement en {read.currency} : seuls les virements en euros sont suivis."
    if read.amount_cents <= 0:
        return f"Virement de {euros(read.amount_cents)} : rien à enregistrer."
    return None


def from_the_bank(read: Transaction, old_account: object) -> bool:
    """Whether La Banque Postale sent it: from the old account the mandataire attested,
    or in the bank's own name (its closing transfers may come from its own account)."""
    attested = compact(old_account) if isinstance(old_account, str) else None
    if read.debtor_iban and attested and compact(read.debtor_iban) == attested:
        return True
    return BANK_NAME in _plain(read.debtor_name)


def _plain(text: str) -> str:
    letters = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in letters if not unicodedata.combining(c)).upper().split())


def _recorded(tx: UnitOfWork, transaction_id: str) -> bool:
    """Whether the transaction is tied to a case already (recorded once, ever)."""
    return (
        tx.session.scalar(
            select(ProviderResource.id).where(
                ProviderResource.provider == swan_events.PROVIDER,
                ProviderResource.resource_id == transaction_id,
            )
        )
        is not None
    )


def _fire(tx: UnitOfWork, case: Case, read: Transaction, event: swan_events.SwanEvent) -> Applied:
    """``funds_received`` with the funds as the case keeps them, the transaction tied."""
    ad = case.coop.ad
    payload = attestation.funds_payload(
        case,
        ad,
        received_cents=read.amount_cents,
        received_on=read.execution_date,
        source="swan",
        transaction_id=read.id,
        event_id=event.event_id,
    )
    try:
        tx.fire(case.id, "funds_received", actor=swan_events.SWAN, payload=payload)
    except ConflictError as refused:  # raised before anything is written
        return _ignored(str(refused))
    case.data = {
        **(case.data or {}),
        "funds": {
            "received_cents": read.amount_cents,
            "received_on": read.execution_date.isoformat(),
            "source": "swan",
            "transaction_id": read.id,
            "recorded_by": swan_events.SWAN.name,
        },
    }
    swan_events.tie(tx, case, TRANSACTION, read.id)
    log.info(
        "swan funds received",
        extra={"case_id": case.id, "transaction_id": read.id, "cents": read.amount_cents},
    )
    return Applied("applied", f"Solde reçu : {euros(read.amount_cents)} enregistrés.")


def _ignored(message: str) -> Applied:
    return Applied("ignored", message)
