"""Choosing the one retention offer that fits a cancellation reason and the customer's value."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.records.models import ACTIVE, Contract, Customer, Plan, RetentionOffer
from bot.retention.dates import add_months, months_between

REASONS = ("price", "service", "technical", "moving", "not_using", "competitor", "other")
HIGH_VALUE_SEGMENTS = ("premium", "business")
HIGH_VALUE_LIFETIME_REVENUE_CENTS = 150_000  # 1,500 € paid so far
PAUSE_COOLDOWN_MONTHS = 12


@dataclass(frozen=True)
class OfferChoice:
    """An offer made concrete for one contract: what it costs and, for plan changes, the new plan."""

    offer: RetentionOffer
    cost_cents: int
    new_plan: Plan | None = None


def tenure_months(customer: Customer, today: date) -> int:
    return months_between(customer.customer_since, today)


def is_high_value(customer: Customer, contract: Contract, today: date) -> bool:
    """Premium and business customers, and anyone who has paid 1,500 € or more so far."""
    if customer.segment in HIGH_VALUE_SEGMENTS:
        return True
    paid = contract.monthly_price_cents * months_between(contract.start_date, today)
    return paid >= HIGH_VALUE_LIFETIME_REVENUE_CENTS


def _offer_reasons(offer: RetentionOffer) -> set[str]:
    return {reason.strip() for reason in offer.reasons.split(",") if reason.strip()}


def _cheaper_plan(contract: Contract, plans: Iterable[Plan]) -> Plan | None:
    """The next smaller active plan in the same category, if any."""
    current = contract.plan
    smaller = [
        p for p in plans
        if p.active and p.category == current.category and p.tier < current.tier
        and p.monthly_price_cents < contract.monthly_price_cents
    ]
    return max(smaller, key=lambda p: p.tier, default=None)


def _bigger_plan(contract: Contract, plans: Iterable[Plan]) -> Plan | None:
    """The next bigger active plan in the same category, if any."""
    current = contract.plan
    bigger = [p for p in plans if p.active and p.category == current.category and p.tier > current.tier]
    return min(bigger, key=lambda p: p.tier, default=None)


def _discount_running(contract: Contract, today: date) -> bool:
    return bool(contract.discount_percent) and contract.discount_until is not None and contract.discount_until > today


def _concrete(offer: RetentionOffer, contract: Contract, plans: Sequence[Plan], today: date) -> OfferChoice | None:
    """The offer priced for this contract, or None when the contract does not qualify."""
    price = contract.monthly_price_cents
    if offer.kind in ("discount", "price_match"):
        if _discount_running(contract, today):
            return None
        return OfferChoice(offer, price * offer.discount_percent * offer.duration_months // 100)
    if offer.kind == "pause":
        if contract.status != ACTIVE:
            return None
        if contract.last_pause_end and add_months(contract.last_pause_end, PAUSE_COOLDOWN_MONTHS) > today:
            return None
        return OfferChoice(offer, price * offer.duration_months)
    if offer.kind == "downgrade":
        plan = _cheaper_plan(contract, plans)
        if plan is None:
            return None
        return OfferChoice(offer, (price - plan.monthly_price_cents) * 12, new_plan=plan)
    if offer.kind == "upgrade":
        plan = _bigger_plan(contract, plans)
        if plan is None:
            return None
        # Same price, more service: no revenue is given up.
        return OfferChoice(offer, 0, new_plan=plan)
    if offer.kind in ("goodwill_credit", "loyalty_bonus"):
        return OfferChoice(offer, offer.credit_cents)
    if offer.kind == "relocation":
        return OfferChoice(offer, 0)
    return None


def choose_offer(
    *,
    reason: str | None,
    customer: Customer,
    contract: Contract,
    catalog: Sequence[RetentionOffer],
    plans: Sequence[Plan],
    today: date,
) -> OfferChoice | None:
    """The single best offer for this cancellation, or None when nothing fits.

    Offers are tried in priority order; an offer qualifies when it answers the reason, suits the
    customer's value group and tenure, fits the contract (e.g. a cheaper plan exists) and stays
    within its cost limit.
    """
    reason = reason if reason in REASONS else "other"
    high_value = is_high_value(customer, contract, today)
    tenure = tenure_months(customer, today)
    for offer in sorted(catalog, key=lambda o: (o.priority, o.id or 0)):
        if not offer.active or reason not in _offer_reasons(offer):
            continue
        if offer.for_high_value is not None and offer.for_high_value != high_value:
            continue
        if tenure < offer.min_tenure_months:
            continue
        choice = _concrete(offer, contract, plans, today)
        if choice is None:
            continue
        if offer.max_cost_cents and choice.cost_cents > offer.max_cost_cents:
            continue
        return choice
    return None
