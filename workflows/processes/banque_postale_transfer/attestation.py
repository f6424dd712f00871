"""What the mandataire attests and what La Banque Postale pays, as the case keeps them.

``case.data["attestation"]`` (stored by the portal, then ``attest`` fired)::

    {"cheques_issued": true, "cheques_deposited": true, "no_operation": true,
     "old_account": "FR7620041010050500013M02606",   # compact IBAN, bank 20041
     "declared_cents": 180000, "attested_at": "<UTC ISO>", "attested_by": "<name>",
     "ip": "<address>"}

``case.data["funds"]`` (set with ``funds_received``, by staff or Swan)::

    {"received_cents": 179950, "received_on": "2026-10-12", "source": "staff"|"swan",
     "transaction_id": "<Swan's, when it reported it>", "recorded_by": "<name>"}

``case.data["letter"]``: ``{"document_id": 12}`` once rendered, ``{"sent_on": …}`` once
marked sent.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from workflows.formatting import euros
from workflows.models import AD, Case
from workflows.processes.iban.rib_checks import compact, parse_iban

#: La Banque Postale's bank code (the 5 digits after ``FR76`` in its IBANs).
BANK_CODE = "20041"
#: Where the letters go (the centre that closes a coop's account).
BANK_ADDRESS = (
    "La Banque Postale",
    "Centre financier — Service clientèle des associations",
    "115 rue de Sèvres",
    "75275 Paris Cedex 06",
)

OLD_ACCOUNT_REQUIRED = "Indiquez le numéro du compte La Banque Postale (son IBAN)."
NOT_THE_BANK = (
    "Ce compte n'est pas à La Banque Postale : son IBAN commence par FR, deux chiffres, "
    "puis 20041 (recopiez-le depuis un relevé de La Banque Postale)."
)


def parse_old_account(typed: str) -> tuple[str | None, str | None]:
    """The old account's compact IBAN, or the French error: an IBAN of La Banque
    Postale (bank code 20041) whose RIB key is right."""
    if not compact(typed or ""):
        return None, OLD_ACCOUNT_REQUIRED
    iban, error = parse_iban(typed)
    if iban is None:
        return None, error
    if iban.country_code != "FR" or iban.bank_code != BANK_CODE:
        return None, NOT_THE_BANK
    return iban.compact, None


def attestation_of(case: Case) -> dict[str, Any]:
    return dict((case.data or {}).get("attestation") or {})


def declared_cents(case: Case) -> int | None:
    value = attestation_of(case).get("declared_cents")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def funds_payload(
    case: Case, ad: AD, *, received_cents: int, received_on: date, source: str, **extra: Any
) -> dict[str, Any]:
    """The payload of ``funds_received``: the amounts in cents the stuck rule compares
    (received, declared, the AD's tolerance) and, for its French sentence, as shown."""
    declared = declared_cents(case) or 0
    tolerance = ad.transfer_tolerance_cents
    return {
        "received_cents": received_cents,
        "declared_cents": declared,
        "tolerance_cents": tolerance,
        "received_on": received_on.isoformat(),
        "source": source,
        "received": euros(received_cents),
        "declared": euros(declared),
        "difference": euros(abs(received_cents - declared)),
        "tolerance": euros(tolerance),
        **extra,
    }
