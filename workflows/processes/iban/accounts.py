"""The coop's bank account as the platform has it: the last RIB certified."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import BankAccount
from workflows.processes.iban.rib_checks import mask_iban

CERTIFIED = "certified"


def certified_account(session: Session, coop_id: int) -> BankAccount | None:
    """The coop's certified account (a newer certified RIB replaces the older one)."""
    return session.scalars(
        select(BankAccount)
        .where(BankAccount.coop_id == coop_id, BankAccount.status == CERTIFIED)
        .order_by(BankAccount.certified_at.desc(), BankAccount.id.desc())
        .limit(1)
    ).first()


def shown(account: BankAccount) -> str:
    """« FR76 **** … ***0 189 · AGRIFRPP · OCCE 06 COOP … »: how documents and pages
    name the account without its full IBAN."""
    return f"{mask_iban(account.iban)} · {account.bic} · {account.holder}"


def expected_holders(ad_code: str, coop_name: str) -> list[str]:
    """The names an AD expects as a coop account's holder (compared by
    :func:`~workflows.processes.iban.rib_checks.fold_holder`): the federation's legal
    name, the AD's, the coop's as a « coopérative scolaire »."""
    return [
        "OFFICE CENTRAL DE COOPERATION A L ECOLE",
        f"OCCE {ad_code.removeprefix('AD')}",
        f"OCCE {ad_code}",
        f"OCCE {coop_name}",
        f"COOPERATIVE SCOLAIRE {coop_name}",
        coop_name,
    ]
