"""The affiliation's calendar: the deadline of a coop's case and its reminders.

A school year opens on 1 September (Europe/Paris); the AD's deadline is 30 September
by default (``AD.affiliation_deadline_*``). A coop whose case opens after that day (it
became active later in the year) has 30 days from its opening; staff may grant a
later date (``data.deadline``).
The deadline passes at the end of its day in Paris; reminders go 15 and 5 days before,
at 9:00 in Paris, unless that moment has passed when the case enters its state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from workflows.engine.cross_process import PARIS
from workflows.models import AD

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workflows.models import Case

#: A coop whose case opens after the AD's deadline has this long to submit.
LATE_OPENING = timedelta(days=30)
REMINDER_DAYS = (15, 5)
REMINDER_HOUR = time(9, 0)


def ad_deadline(ad: AD, school_year: int) -> date:
    """The AD's deadline of ``school_year`` (30/09 of its first year by default)."""
    month, day = ad.affiliation_deadline_month, ad.affiliation_deadline_day
    year = school_year if month >= 9 else school_year + 1
    return date(year, month, day)


def deadline_of(case: Case, session: Session) -> date:
    """The day by which the case must be submitted, in Paris."""
    granted = (case.data or {}).get("deadline")
    if granted:
        return date.fromisoformat(granted)
    ads: dict[int, AD] = session.info.setdefault("affiliation_ads", {})
    ad = ads.get(case.ad_id) or session.get(AD, case.ad_id)
    assert ad is not None, f"AD {case.ad_id} introuvable"
    ads[case.ad_id] = ad
    assert case.school_year is not None
    opened = case.created_at.astimezone(PARIS).date() if case.created_at else None
    deadline = ad_deadline(ad, case.school_year)
    if opened is not None and opened > deadline:
        return opened + LATE_OPENING
    return deadline


def passes_at(deadline: date) -> datetime:
    """The moment the deadline has passed: midnight after its day, in Paris."""
    return datetime.combine(deadline + timedelta(days=1), time(0, 0), tzinfo=PARIS)


def reminder_at(deadline: date, days_before: int) -> datetime:
    return datetime.combine(deadline - timedelta(days=days_before), REMINDER_HOUR, tzinfo=PARIS)


def until_deadline(case: Case, session: Session) -> timedelta:
    """From entering the state to the deadline (at once when it has passed)."""
    return max(passes_at(deadline_of(case, session)) - case.state_entered_at, timedelta(0))


def until_reminder(days_before: int) -> Callable[[Case, Session], timedelta | None]:
    """The duration to the reminder ``days_before`` the deadline."""

    def duration(case: Case, session: Session) -> timedelta | None:
        left = reminder_at(deadline_of(case, session), days_before) - case.state_entered_at
        return left if left > timedelta(0) else None

    return duration
