"""Steps of ``banque_postale_transfer``: the letter to La Banque Postale (*demande de
clôture et de reversement du solde*) once the mandataire attested, and the emails to
the mandataire (the attestation awaited, the funds received).

La Banque Postale has no API: staff print the letter, sign it with the mandataire's and
post it. It names the new account's whole IBAN (the bank pays it); the emails never do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from workers.context import StepContext
from workers.documents import Draft
from workers.steps.case_emails import load_case
from workers.steps.notifications import notify_mandataire
from workers.steps.paper import (
    Amount,
    Paper,
    cents_of,
    day_of,
    grouped_iban,
    kept,
    mandataire_email,
    mandataire_name,
    moment_of,
    paper_context,
    render_paper,
)
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.models import Case
from workflows.processes.banque_postale_transfer.attestation import BANK_ADDRESS, attestation_of
from workflows.processes.banque_postale_transfer.definition import DEFINITION, STATEMENTS
from workflows.processes.iban.accounts import certified_account

NO_ATTESTATION = (
    "L'attestation du mandataire n'est pas complète dans le dossier (les trois "
    "déclarations, le compte La Banque Postale et son solde) : la lettre ne peut pas être "
    "établie."
)
NO_ACCOUNT = (
    "La coopérative n'a pas de compte bancaire certifié : la lettre ne peut pas indiquer "
    "où reverser le solde."
)
NO_FUNDS = "Le montant et la date des fonds reçus ne sont pas enregistrés dans le dossier."

LETTER = Paper(
    template="banque_postale_transfer/transfer_request",
    kind="transfer_request",
    title="Demande de clôture et de reversement du solde",
    stem="demande-cloture-banque-postale",
)


def _attestation(case: Case) -> dict[str, Any]:
    """The attestation as the portal kept it, all of it (else the step fails for good)."""
    attestation = attestation_of(case)
    if (
        not all(attestation.get(key) is True for key in STATEMENTS)
        or not attestation.get("old_account")
        or cents_of(attestation.get("declared_cents")) is None
    ):
        raise PermanentStepError(NO_ATTESTATION)
    return attestation


def render_transfer_request(ctx: StepContext) -> Outcome:
    """The letter asking La Banque Postale to close the coop's old account and transfer
    its balance to the new one; ``letter_ready`` follows (on_done)."""

    def build(session: Session) -> Draft:
        case = load_case(session, ctx.step.case_id)
        attestation = _attestation(case)
        account = certified_account(session, case.coop_id)
        if account is None:
            raise PermanentStepError(NO_ACCOUNT)
        return LETTER.draft(
            ctx,
            case,
            {
                **paper_context(ctx, session, case),
                "bank_address": BANK_ADDRESS,
                "old_account": grouped_iban(attestation["old_account"]),
                "new_account": {
                    "iban": grouped_iban(account.iban),
                    "bic": account.bic,
                    "holder": account.holder,
                },
                "statements": list(STATEMENTS.values()),
                "declared": Amount(attestation["declared_cents"]),
                "mandataire_name": mandataire_name(session, case, attestation.get("attested_by")),
                "attested_at": moment_of(attestation.get("attested_at")),
            },
        )

    return render_paper(ctx, "letter", build)


def send_reminder(ctx: StepContext) -> Outcome:
    """The attestation is awaited: seed 002's warning, what it asks, the link."""

    def context(_session: Session, _case: Case) -> dict[str, Any]:
        return {"statements": list(STATEMENTS.values())}

    return mandataire_email(
        ctx,
        DEFINITION,
        "reminder",
        "Rappel : remplissez l'attestation pour recevoir le solde Banque Postale de {coop}",
        context,
    )


def notify_funds_received(ctx: StepContext) -> Outcome:
    """La Banque Postale paid: how much, when (and the balance declared when it differs)."""

    def context(session: Session, case: Case) -> dict[str, Any]:
        funds = kept(session, case, "funds", "funds_received")
        received = cents_of(funds.get("received_cents"))
        received_on = day_of(funds.get("received_on"))
        if received is None or not received_on:
            raise PermanentStepError(NO_FUNDS)
        declared = cents_of(attestation_of(case).get("declared_cents"))
        return {
            "received": Amount(received),
            "received_on": received_on,
            "declared": Amount(declared) if declared not in (None, received) else None,
        }

    return mandataire_email(
        ctx,
        DEFINITION,
        "funds_received",
        "Solde Banque Postale de {coop} reçu sur son nouveau compte",
        context,
    )


#: The handler of each step of the definition, by step name.
STEPS = {
    "notify_mandataire": notify_mandataire,
    "render_transfer_request": render_transfer_request,
    "send_reminder": send_reminder,
    "notify_funds_received": notify_funds_received,
}

#: What this process sends (``templates/emails/banque_postale_transfer/``).
EMAILS = ("reminder", "funds_received")
#: What this process renders (``templates/documents/banque_postale_transfer/``).
DOCUMENTS = ("transfer_request",)
