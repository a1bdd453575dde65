"""Calendar arithmetic for contracts: months that end on short months and leap days."""
from __future__ import annotations

import calendar
from datetime import date

from bot.records.models import CANCELLED, ENDED, Contract


class AlreadyCancelled(ValueError):
    """The contract has already been cancelled; its effective date is known."""

    def __init__(self, effective_date: date | None) -> None:
        self.effective_date = effective_date
        super().__init__(
            f"This contract is already cancelled (effective {effective_date}); "
            "show the customer the existing confirmation instead of cancelling again."
        )


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last_day))


def next_monthly_date(day_of_month: int, *, not_before: date) -> date:
    """The first date on or after `not_before` that falls on `day_of_month`, clamped to short months.

    A debit on the 31st is on 28/29 Feb and 30 Apr, and back on the 31st in March and May.
    """
    year, month = not_before.year, not_before.month
    candidate = date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))
    if candidate < not_before:
        first_of_next = add_months(date(year, month, 1), 1)
        year, month = first_of_next.year, first_of_next.month
        candidate = date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))
    return candidate


def months_between(start: date, end: date) -> int:
    """Whole months from start to end (0 when end is before start)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    # 31 Jan -> 28 Feb is a whole month: a shorter month's last day completes it.
    if end.day < start.day and end.day != calendar.monthrange(end.year, end.month)[1]:
        months -= 1
    return max(months, 0)


def effective_cancellation_date(contract: Contract, requested_on: date) -> date:
    """The day a cancellation requested on `requested_on` ends the contract.

    The notice period counts towards the end of the minimum term. Once that deadline has
    passed, the contract runs on indefinitely and can be ended with at most one month's notice
    (§ 309 Nr. 9 BGB, consumer contracts since 1 March 2022), never before the minimum term ends.
    """
    if contract.status in (CANCELLED, ENDED):
        raise AlreadyCancelled(contract.cancellation_effective_date)
    if add_months(requested_on, contract.notice_period_months) <= contract.minimum_term_end:
        return contract.minimum_term_end
    return max(contract.minimum_term_end, add_months(requested_on, min(contract.notice_period_months, 1)))
