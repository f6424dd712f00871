"""The AD scope: national staff see every AD, everyone else only their own AD's rows.

One rule, in two forms: SQL conditions for the lists, exports, counts and bulk
selections, and checks of one row for the pages, actions and bulk jobs reached by id.
Read-only accounts see like the others but change nothing, and only active staff who
act may change a case or be given one. The back-office (``admin``) and the workers
running bulk jobs both apply it from here.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, false, select, true

from workflows.models import Case, Coop, Email, StaffRole, StaffUser, Task


class Principal(Protocol):
    """Who the rule is about: what it reads of a logged-in staff member or a staff row."""

    @property
    def role(self) -> str: ...

    @property
    def ad_id(self) -> int | None: ...


def is_national(principal: Principal) -> bool:
    return principal.role == StaffRole.NATIONAL.value


def can_act(principal: Principal) -> bool:
    """Whether this account may change anything (read-only accounts only look)."""
    return principal.role != StaffRole.READONLY.value


def can_see(principal: Principal, ad_id: int | None) -> bool:
    """Whether the rows of AD ``ad_id`` are in this person's scope."""
    return is_national(principal) or (ad_id is not None and ad_id == principal.ad_id)


def is_acting_staff(staff: StaffUser | None) -> bool:
    """Whether this staff row may change cases at all: active and not read-only."""
    return staff is not None and staff.is_active and can_act(staff)


def can_act_on(staff: StaffUser | None, ad_id: int) -> bool:
    """Whether ``staff`` may change (or be given) the cases of AD ``ad_id``: active, not
    read-only, national or of that AD."""
    return staff is not None and is_acting_staff(staff) and can_see(staff, ad_id)


# SQL ---------------------------------------------------------------------------------


def ad_condition(principal: Principal, column: Any = Coop.ad_id) -> ColumnElement[bool]:
    """The rows of ``column`` (an AD id) this person may see."""
    if is_national(principal):
        return true()
    if principal.ad_id is None:  # an AD account without an AD sees nothing
        return false()
    return column == principal.ad_id


def case_condition(principal: Principal) -> ColumnElement[bool]:
    return ad_condition(principal, Case.ad_id)


def task_condition(principal: Principal) -> ColumnElement[bool]:
    return ad_condition(principal, Task.ad_id)


def visible_coop_ids(principal: Principal) -> Select[int]:
    return select(Coop.id).where(ad_condition(principal))


def email_condition(principal: Principal) -> ColumnElement[bool]:
    """An email is visible through its coop, or through its case when it has no coop."""
    if is_national(principal):
        return true()
    cases = select(Case.id).where(case_condition(principal))
    return Email.coop_id.in_(visible_coop_ids(principal)) | (
        Email.coop_id.is_(None) & Email.case_id.in_(cases)
    )


def acting_staff_condition(principal: Principal, ad_id: int | None = None) -> ColumnElement[bool]:
    """The staff rows :func:`can_act_on` accepts for AD ``ad_id`` (``None``: for some AD
    in ``principal``'s scope): active, not read-only, national or of that AD."""
    of_ad = ad_condition(principal, StaffUser.ad_id) if ad_id is None else StaffUser.ad_id == ad_id
    return (
        StaffUser.is_active.is_(True)
        & (StaffUser.role != StaffRole.READONLY.value)
        & (of_ad | (StaffUser.role == StaffRole.NATIONAL.value))
    )
