"""choose_offer over the shipped catalog (bot.records.catalog), with in-memory records only.

SQLAlchemy column defaults are not applied to unsaved objects, so every builder below sets each
column explicitly.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

import pytest

from bot.records.catalog import OFFERS, PLANS
from bot.records.models import ACTIVE, PAUSED, Contract, Customer, Plan, RetentionOffer
from bot.retention.dates import add_months
from bot.retention.offers import REASONS, OfferChoice, choose_offer, is_high_value, tenure_months

TODAY = date(2026, 3, 15)
HIGH_VALUE_GROUPS = ("premium", "business", "paid")  # "paid": standard segment, but 1,500 € paid so far
ALL_GROUPS = ("standard", *HIGH_VALUE_GROUPS)


def build_plans() -> list[Plan]:
    return [Plan(id=i, active=True, **p) for i, p in enumerate(PLANS, start=1)]


def build_catalog() -> list[RetentionOffer]:
    defaults = dict(active=True, for_high_value=None, discount_percent=0, duration_months=0, credit_cents=0,
                    min_tenure_months=0, max_cost_cents=0)
    return [RetentionOffer(id=i, **{**defaults, **o}) for i, o in enumerate(OFFERS, start=1)]


def offer_by_code(catalog: list[RetentionOffer], code: str) -> RetentionOffer:
    return next(o for o in catalog if o.code == code)


def plan_by_code(plans: list[Plan], code: str) -> Plan:
    return next(p for p in plans if p.code == code)


@dataclass
class Case:
    customer: Customer
    contract: Contract
    plans: list[Plan]
    catalog: list[RetentionOffer]

    def choose(self, reason: str | None) -> OfferChoice | None:
        return choose_offer(reason=reason, customer=self.customer, contract=self.contract, catalog=self.catalog,
                            plans=self.plans, today=TODAY)


def make_case(plan_code: str = "MOBIL_M", group: str = "standard", *, tenure: int = 6, price: int | None = None,
              status: str = ACTIVE, last_pause_end: date | None = None, discount_percent: int = 0,
              discount_until: date | None = None) -> Case:
    """A customer with one contract. `group` is standard, premium, business or paid (standard segment,
    contract running long enough to have paid at least 1,500 €)."""
    plans = build_plans()
    plan = plan_by_code(plans, plan_code)
    monthly = plan.monthly_price_cents if price is None else price
    contract_months = tenure
    if group == "paid":
        contract_months = max(tenure, -(-150_000 // monthly))  # ceil: just enough months to reach 1,500 €
    start = add_months(TODAY, -contract_months)
    customer = Customer(
        id=1, customer_number="K123456", first_name="Erika", last_name="Mustermann",
        email="k123456@mail.example", postcode="10115", birth_date=date(1985, 4, 12), language="de",
        segment="standard" if group == "paid" else group, customer_since=add_months(TODAY, -max(tenure, contract_months)),
    )
    contract = Contract(
        id=1, contract_number="V12345601", customer_id=1, plan_id=plan.id, monthly_price_cents=monthly,
        start_date=start, minimum_term_end=add_months(start, 24), notice_period_months=1, status=status,
        paused_until=None, last_pause_end=last_pause_end, discount_percent=discount_percent,
        discount_until=discount_until, cancellation_effective_date=None,
    )
    contract.plan = plan
    return Case(customer, contract, plans, build_catalog())


def assert_choice(choice: OfferChoice | None, code: str | None, cost: int | None = None,
                  new_plan: str | None = None) -> None:
    if code is None:
        assert choice is None
        return
    assert isinstance(choice, OfferChoice)
    assert choice.offer.code == code
    if cost is not None:
        assert choice.cost_cents == cost
    assert (choice.new_plan.code if choice.new_plan else None) == new_plan


# ------------------------------------------------------------------------------------------- the fixtures


def test_catalog_builders_match_the_shipped_catalog() -> None:
    plans, catalog = build_plans(), build_catalog()
    assert [p.code for p in plans] == [p["code"] for p in PLANS]
    assert {o.code for o in catalog} >= {"DISCOUNT_20", "DOWNGRADE", "DISCOUNT_10", "PRICE_MATCH_25",
                                         "PRICE_MATCH_15", "PAUSE_3", "RELOCATION", "GOODWILL_25",
                                         "GOODWILL_10", "UPGRADE", "LOYALTY_50"}
    assert REASONS == ("price", "service", "technical", "moving", "not_using", "competitor", "other")


# --------------------------------------------------------------------------------- value group and tenure


@pytest.mark.parametrize(
    ("segment", "price", "contract_months", "expected"),
    [
        ("standard", 1999, 6, False),
        ("premium", 999, 0, True),
        ("business", 999, 0, True),
        ("PREMIUM", 999, 0, False),  # segments are stored in lower case
        ("standard", 5000, 30, True),  # exactly 1,500 €
        ("standard", 5000, 29, False),  # 1,450 €
        ("standard", 4999, 30, False),  # 1,499.70 €
        ("standard", 999, 151, True),  # 1,508.49 €
        ("standard", 999, 150, False),  # 1,498.50 €
        ("standard", 6999, 22, True),
        ("standard", 6999, 21, False),
    ],
)
def test_is_high_value(segment: str, price: int, contract_months: int, expected: bool) -> None:
    case = make_case("MOBIL_S", "standard", price=price)
    case.customer.segment = segment
    case.contract.start_date = add_months(TODAY, -contract_months)
    assert is_high_value(case.customer, case.contract, TODAY) is expected


@pytest.mark.parametrize(
    ("customer_since", "expected"),
    [(date(2026, 3, 15), 0), (date(2025, 3, 16), 11), (date(2025, 3, 15), 12), (date(2024, 3, 15), 24),
     (date(2024, 3, 16), 23), (date(2027, 1, 1), 0)],
)
def test_tenure_months(customer_since: date, expected: int) -> None:
    case = make_case()
    case.customer.customer_since = customer_since
    assert tenure_months(case.customer, TODAY) == expected


# --------------------------------------------------------------------------------- one offer per reason


@pytest.mark.parametrize(
    ("reason", "group", "plan", "code", "cost", "new_plan"),
    [
        # price: DISCOUNT_20 for high value (1999*20%*12 = 4797.6 -> whole cents)
        ("price", "premium", "MOBIL_M", "DISCOUNT_20", 4797, None),
        ("price", "business", "MOBIL_M", "DISCOUNT_20", 4797, None),
        ("price", "paid", "MOBIL_M", "DISCOUNT_20", 4797, None),
        ("price", "premium", "MOBIL_S", "DISCOUNT_20", 2397, None),
        ("price", "business", "FIBER_1000", "DISCOUNT_20", 16797, None),
        # price: standard customers move to the next smaller plan of the same category
        ("price", "standard", "MOBIL_M", "DOWNGRADE", (1999 - 999) * 12, "MOBIL_S"),
        ("price", "standard", "MOBIL_L", "DOWNGRADE", (2999 - 1999) * 12, "MOBIL_M"),
        ("price", "standard", "MOBIL_XL", "DOWNGRADE", (4499 - 2999) * 12, "MOBIL_L"),
        ("price", "standard", "DSL_100", "DOWNGRADE", (3999 - 2999) * 12, "DSL_50"),
        ("price", "standard", "FIBER_1000", "DOWNGRADE", (6999 - 4999) * 12, "DSL_250"),
        # price: no smaller plan in the category -> DISCOUNT_10 (never a cheaper plan of another category)
        ("price", "standard", "MOBIL_S", "DISCOUNT_10", 599, None),
        ("price", "standard", "DSL_50", "DISCOUNT_10", 1799, None),
        # competitor: price match within the cost limit
        ("competitor", "premium", "MOBIL_M", "PRICE_MATCH_25", 5997, None),
        ("competitor", "business", "DSL_250", "PRICE_MATCH_25", 14997, None),
        ("competitor", "paid", "MOBIL_XL", "PRICE_MATCH_25", 13497, None),
        ("competitor", "standard", "MOBIL_S", "PRICE_MATCH_15", 1798, None),
        ("competitor", "standard", "MOBIL_M", "PRICE_MATCH_15", 3598, None),
        ("competitor", "standard", "DSL_250", "PRICE_MATCH_15", 8998, None),
        # competitor: price match too expensive for FIBER_1000 -> fallback to the downgrade
        ("competitor", "premium", "FIBER_1000", "DOWNGRADE", 24000, "DSL_250"),
        ("competitor", "paid", "FIBER_1000", "DOWNGRADE", 24000, "DSL_250"),
        ("competitor", "standard", "FIBER_1000", "DOWNGRADE", 24000, "DSL_250"),
        # not_using: pause for three months, cost = three monthly prices
        ("not_using", "standard", "MOBIL_M", "PAUSE_3", 1999 * 3, None),
        ("not_using", "premium", "FIBER_1000", "PAUSE_3", 6999 * 3, None),
        ("not_using", "paid", "MOBIL_S", "PAUSE_3", 999 * 3, None),
        # moving
        ("moving", "standard", "MOBIL_M", "RELOCATION", 0, None),
        ("moving", "business", "FIBER_1000", "RELOCATION", 0, None),
        ("moving", "paid", "DSL_50", "RELOCATION", 0, None),
        # technical / service: goodwill credit by value group
        ("technical", "premium", "MOBIL_M", "GOODWILL_25", 2500, None),
        ("technical", "business", "DSL_50", "GOODWILL_25", 2500, None),
        ("technical", "paid", "MOBIL_M", "GOODWILL_25", 2500, None),
        ("technical", "standard", "MOBIL_M", "GOODWILL_10", 1000, None),
        ("service", "premium", "MOBIL_M", "GOODWILL_25", 2500, None),
        ("service", "paid", "FIBER_1000", "GOODWILL_25", 2500, None),
        ("service", "standard", "MOBIL_S", "GOODWILL_10", 1000, None),
        # other: nothing for a six-month customer
        ("other", "standard", "MOBIL_M", None, None, None),
        ("other", "premium", "MOBIL_M", None, None, None),
    ],
)
def test_offer_by_reason_and_value_group(reason: str, group: str, plan: str, code: str | None, cost: int | None,
                                         new_plan: str | None) -> None:
    assert_choice(make_case(plan, group).choose(reason), code, cost, new_plan)


@pytest.mark.parametrize("group", ALL_GROUPS)
@pytest.mark.parametrize("plan", [p["code"] for p in PLANS])
@pytest.mark.parametrize("reason", [*REASONS, None])
def test_choice_always_answers_the_reason_and_fits_the_customer(reason: str | None, plan: str, group: str) -> None:
    case = make_case(plan, group)
    choice = case.choose(reason)
    high_value = group != "standard"
    assert is_high_value(case.customer, case.contract, TODAY) is high_value
    if choice is None:
        return
    assert isinstance(choice, OfferChoice)
    assert choice.offer.active
    assert (reason or "other") in choice.offer.reasons.split(",")
    assert choice.offer.for_high_value in (None, high_value)
    assert choice.cost_cents >= 0
    if choice.offer.max_cost_cents:
        assert choice.cost_cents <= choice.offer.max_cost_cents
    if choice.new_plan is not None:
        assert choice.new_plan.category == case.contract.plan.category
        assert choice.new_plan.code != plan


# -------------------------------------------------------------------------------- competitor cost limits


@pytest.mark.parametrize(
    ("group", "plan", "price", "code", "cost", "new_plan"),
    [
        # PRICE_MATCH_15: 15 % * 12 months <= 90 €
        ("standard", "DSL_250", 5000, "PRICE_MATCH_15", 9000, None),
        ("standard", "DSL_250", 5001, "DOWNGRADE", (5001 - 3999) * 12, "DSL_100"),
        # PRICE_MATCH_25: 25 % * 12 months <= 200 €
        ("premium", "FIBER_1000", 6666, "PRICE_MATCH_25", 19998, None),
        ("premium", "FIBER_1000", 6667, "DOWNGRADE", (6667 - 4999) * 12, "DSL_250"),
        # too expensive and no smaller plan: DISCOUNT_10 also answers competitor
        ("standard", "DSL_50", 5500, "DISCOUNT_10", 5500 * 10 * 6 // 100, None),
        ("premium", "MOBIL_S", 7000, "DISCOUNT_10", 4200, None),
    ],
)
def test_competitor_price_match_respects_the_cost_limit(group: str, plan: str, price: int, code: str, cost: int,
                                                        new_plan: str | None) -> None:
    assert_choice(make_case(plan, group, price=price).choose("competitor"), code, cost, new_plan)


def test_price_match_never_goes_to_the_wrong_value_group() -> None:
    # A standard customer whose PRICE_MATCH_15 is too expensive must not get the high-value PRICE_MATCH_25.
    choice = make_case("FIBER_1000", "standard").choose("competitor")
    assert choice is not None and choice.offer.code != "PRICE_MATCH_25"
    # A high-value customer never gets the standard PRICE_MATCH_15.
    choice = make_case("MOBIL_S", "premium").choose("competitor")
    assert choice is not None and choice.offer.code == "PRICE_MATCH_25"


# ----------------------------------------------------------------------------------------- pause cooldown


@pytest.mark.parametrize(
    ("plan", "last_pause_end", "status", "code", "new_plan"),
    [
        ("MOBIL_M", None, ACTIVE, "PAUSE_3", None),
        ("MOBIL_M", date(2025, 9, 15), ACTIVE, "DOWNGRADE", "MOBIL_S"),  # paused 6 months ago
        ("MOBIL_M", date(2026, 3, 1), ACTIVE, "DOWNGRADE", "MOBIL_S"),
        ("MOBIL_M", date(2025, 3, 16), ACTIVE, "DOWNGRADE", "MOBIL_S"),  # 12 months minus a day ago
        ("MOBIL_M", date(2025, 3, 15), ACTIVE, "PAUSE_3", None),  # exactly 12 months ago
        ("MOBIL_M", date(2024, 6, 30), ACTIVE, "PAUSE_3", None),
        ("MOBIL_S", date(2025, 9, 15), ACTIVE, None, None),  # no pause, no smaller plan
        ("FIBER_1000", date(2025, 12, 31), ACTIVE, "DOWNGRADE", "DSL_250"),
        ("MOBIL_M", None, PAUSED, "DOWNGRADE", "MOBIL_S"),  # a paused contract is not paused again
    ],
)
def test_not_using_pause_and_cooldown(plan: str, last_pause_end: date | None, status: str, code: str | None,
                                      new_plan: str | None) -> None:
    case = make_case(plan, "standard", status=status, last_pause_end=last_pause_end)
    assert_choice(case.choose("not_using"), code, None, new_plan)


def test_not_using_downgrade_cost_is_a_year_of_the_difference() -> None:
    case = make_case("DSL_250", "standard", last_pause_end=date(2026, 1, 1))
    assert_choice(case.choose("not_using"), "DOWNGRADE", (4999 - 3999) * 12, "DSL_100")


# --------------------------------------------------------------------------------------- tenure: "other"


@pytest.mark.parametrize(
    ("reason", "plan", "tenure", "code", "cost", "new_plan"),
    [
        ("other", "MOBIL_M", 11, None, None, None),
        ("other", "MOBIL_M", 12, "UPGRADE", 0, "MOBIL_L"),
        ("other", "MOBIL_S", 30, "UPGRADE", 0, "MOBIL_M"),
        ("other", "DSL_250", 12, "UPGRADE", 0, "FIBER_1000"),
        ("other", "MOBIL_XL", 12, None, None, None),  # no bigger plan, too short for the loyalty bonus
        ("other", "FIBER_1000", 23, None, None, None),
        ("other", "FIBER_1000", 24, "LOYALTY_50", 5000, None),
        ("other", "MOBIL_XL", 60, "LOYALTY_50", 5000, None),
        # None and unknown reasons are treated as "other"
        (None, "MOBIL_M", 12, "UPGRADE", 0, "MOBIL_L"),
        (None, "MOBIL_M", 6, None, None, None),
        (None, "MOBIL_XL", 24, "LOYALTY_50", 5000, None),
        ("", "MOBIL_M", 12, "UPGRADE", 0, "MOBIL_L"),
        ("kündigen", "MOBIL_M", 12, "UPGRADE", 0, "MOBIL_L"),
        ("PRICE", "MOBIL_M", 12, "UPGRADE", 0, "MOBIL_L"),  # reasons are canonical lower-case values
        # the loyalty bonus also answers price, after the cheaper alternatives
        ("price", "MOBIL_M", 24, "DOWNGRADE", 12000, "MOBIL_S"),
        ("price", "MOBIL_S", 24, "DISCOUNT_10", 599, None),
    ],
)
def test_tenure_dependent_offers(reason: str | None, plan: str, tenure: int, code: str | None, cost: int | None,
                                 new_plan: str | None) -> None:
    assert_choice(make_case(plan, "standard", tenure=tenure).choose(reason), code, cost, new_plan)


@pytest.mark.parametrize("group", ALL_GROUPS)
def test_none_reason_is_the_same_as_other(group: str) -> None:
    for plan in ("MOBIL_S", "MOBIL_XL", "FIBER_1000"):
        for tenure in (6, 12, 24):
            case = make_case(plan, group, tenure=tenure)
            other, none = case.choose("other"), case.choose(None)
            assert (other and (other.offer.code, other.cost_cents, other.new_plan)) == \
                   (none and (none.offer.code, none.cost_cents, none.new_plan))


def test_upgrade_on_the_first_anniversary_of_a_leap_day_customer() -> None:
    case = make_case("MOBIL_M", "standard")
    case.customer.customer_since = date(2024, 2, 29)
    choice = choose_offer(reason="other", customer=case.customer, contract=case.contract, catalog=case.catalog,
                          plans=case.plans, today=date(2025, 2, 28))
    assert_choice(choice, "UPGRADE", 0, "MOBIL_L")


# --------------------------------------------------------------------------------------- running discount


@pytest.mark.parametrize(
    ("reason", "group", "plan", "tenure", "code", "new_plan"),
    [
        ("price", "premium", "MOBIL_M", 6, "DOWNGRADE", "MOBIL_S"),  # no DISCOUNT_20 on top
        ("price", "premium", "MOBIL_S", 6, None, None),  # no DISCOUNT_20, no DISCOUNT_10
        ("price", "standard", "MOBIL_S", 6, None, None),
        ("price", "standard", "MOBIL_S", 24, "LOYALTY_50", None),  # a credit is not a discount
        ("competitor", "premium", "MOBIL_M", 6, "DOWNGRADE", "MOBIL_S"),  # no price match either
        ("competitor", "standard", "MOBIL_S", 6, None, None),
        ("not_using", "standard", "MOBIL_M", 6, "PAUSE_3", None),  # other kinds are unaffected
        ("technical", "premium", "MOBIL_M", 6, "GOODWILL_25", None),
        ("moving", "standard", "MOBIL_M", 6, "RELOCATION", None),
        ("other", "standard", "MOBIL_M", 12, "UPGRADE", "MOBIL_L"),
    ],
)
def test_running_discount_excludes_discount_offers(reason: str, group: str, plan: str, tenure: int,
                                                   code: str | None, new_plan: str | None) -> None:
    case = make_case(plan, group, tenure=tenure, discount_percent=10, discount_until=date(2026, 9, 30))
    assert_choice(case.choose(reason), code, None, new_plan)


@pytest.mark.parametrize(
    ("discount_percent", "discount_until", "code"),
    [
        (20, date(2026, 3, 16), "DOWNGRADE"),  # still running tomorrow
        (20, date(2026, 3, 14), "DISCOUNT_20"),  # ended yesterday
        (20, TODAY, "DISCOUNT_20"),  # discount_until is exclusive (start + duration), as in service_answers
        (20, None, "DISCOUNT_20"),
        (0, date(2027, 1, 1), "DISCOUNT_20"),  # no percentage: nothing is running
    ],
)
def test_discount_running_window(discount_percent: int, discount_until: date | None, code: str) -> None:
    case = make_case("MOBIL_M", "premium", discount_percent=discount_percent, discount_until=discount_until)
    choice = case.choose("price")
    assert choice is not None and choice.offer.code == code


# ------------------------------------------------------------------------------------ inactive offers/plans


@pytest.mark.parametrize(
    ("inactive", "reason", "group", "plan", "tenure", "code"),
    [
        ("DISCOUNT_20", "price", "premium", "MOBIL_M", 6, "DOWNGRADE"),
        ("DOWNGRADE", "price", "standard", "MOBIL_M", 6, "DISCOUNT_10"),
        ("PRICE_MATCH_25", "competitor", "premium", "MOBIL_M", 6, "DOWNGRADE"),
        ("PRICE_MATCH_15", "competitor", "standard", "MOBIL_M", 6, "DOWNGRADE"),
        ("PAUSE_3", "not_using", "standard", "MOBIL_M", 6, "DOWNGRADE"),
        ("RELOCATION", "moving", "standard", "MOBIL_M", 6, "PAUSE_3"),
        ("GOODWILL_25", "technical", "premium", "MOBIL_M", 6, None),  # GOODWILL_10 is for standard only
        ("GOODWILL_10", "service", "standard", "MOBIL_M", 6, None),
        ("UPGRADE", "other", "standard", "MOBIL_M", 12, None),
        ("UPGRADE", "other", "standard", "MOBIL_M", 24, "LOYALTY_50"),
    ],
)
def test_inactive_offer_is_never_chosen(inactive: str, reason: str, group: str, plan: str, tenure: int,
                                        code: str | None) -> None:
    case = make_case(plan, group, tenure=tenure)
    offer_by_code(case.catalog, inactive).active = False
    assert_choice(case.choose(reason), code, None, {"DOWNGRADE": "MOBIL_S"}.get(code or ""))


@pytest.mark.parametrize("group", ALL_GROUPS)
@pytest.mark.parametrize("reason", [*REASONS, None])
def test_no_offer_when_the_whole_catalog_is_inactive(reason: str | None, group: str) -> None:
    case = make_case("MOBIL_M", group, tenure=36)
    assert case.choose(reason) is not None  # something fits while the catalog is active ...
    for offer in case.catalog:
        offer.active = False
    assert case.choose(reason) is None  # ... and nothing once it is switched off


def test_empty_catalog_gives_no_offer() -> None:
    case = make_case()
    for reason in REASONS:
        assert choose_offer(reason=reason, customer=case.customer, contract=case.contract, catalog=[],
                            plans=case.plans, today=TODAY) is None


@pytest.mark.parametrize(
    ("inactive_plans", "reason", "plan", "tenure", "code", "new_plan"),
    [
        (("MOBIL_M",), "price", "MOBIL_L", 6, "DOWNGRADE", "MOBIL_S"),  # skip the inactive next smaller plan
        (("MOBIL_S",), "price", "MOBIL_M", 6, "DISCOUNT_10", None),
        (("DSL_250",), "price", "FIBER_1000", 6, "DOWNGRADE", "DSL_100"),
        (("MOBIL_L",), "other", "MOBIL_M", 12, "UPGRADE", "MOBIL_XL"),  # skip the inactive next bigger plan
        (("MOBIL_L", "MOBIL_XL"), "other", "MOBIL_M", 12, None, None),
    ],
)
def test_inactive_plans_are_never_offered(inactive_plans: tuple[str, ...], reason: str, plan: str, tenure: int,
                                          code: str | None, new_plan: str | None) -> None:
    case = make_case(plan, "standard", tenure=tenure)
    for p in case.plans:
        if p.code in inactive_plans:
            p.active = False
    choice = case.choose(reason)
    assert_choice(choice, code, None, new_plan)
    if choice is not None and new_plan == "MOBIL_S":
        assert choice.cost_cents == (2999 - 999) * 12  # cost against the plan actually offered


def test_downgrade_skips_plans_not_cheaper_than_the_contract_price() -> None:
    # A legacy MOBIL_L contract at MOBIL_M's price: switching to MOBIL_M would save the customer nothing.
    case = make_case("MOBIL_L", "standard", price=1999)
    assert_choice(case.choose("price"), "DOWNGRADE", (1999 - 999) * 12, "MOBIL_S")


# ------------------------------------------------------------------------------------------ cost and order


def custom_offer(id: int | None, code: str, *, kind: str = "relocation", reasons: str = "other", priority: int = 10,
                 **overrides: object) -> RetentionOffer:
    values = dict(id=id, code=code, kind=kind, title=code, reasons=reasons, priority=priority, active=True,
                  for_high_value=None, discount_percent=0, duration_months=0, credit_cents=0, min_tenure_months=0,
                  max_cost_cents=0)
    values.update(overrides)
    return RetentionOffer(**values)


@pytest.mark.parametrize(
    ("offer_kwargs", "price", "expected_cost"),
    [
        (dict(kind="discount", discount_percent=20, duration_months=12), 1000, 2400),
        (dict(kind="discount", discount_percent=10, duration_months=6), 2000, 1200),
        (dict(kind="price_match", discount_percent=25, duration_months=12), 4000, 12000),
        (dict(kind="discount", discount_percent=50, duration_months=1), 1001, 500),  # whole cents
        (dict(kind="pause", duration_months=3), 1000, 3000),
        (dict(kind="pause", duration_months=1), 4499, 4499),
        (dict(kind="goodwill_credit", credit_cents=1234), 1000, 1234),
        (dict(kind="loyalty_bonus", credit_cents=5000), 9999, 5000),
        (dict(kind="relocation"), 9999, 0),
    ],
)
def test_cost_of_each_offer_kind(offer_kwargs: dict, price: int, expected_cost: int) -> None:
    case = make_case("MOBIL_M", price=price)
    choice = choose_offer(reason="other", customer=case.customer, contract=case.contract,
                          catalog=[custom_offer(1, "X", **offer_kwargs)], plans=case.plans, today=TODAY)
    assert choice is not None and choice.offer.code == "X"
    assert choice.cost_cents == expected_cost


@pytest.mark.parametrize(
    ("plan", "price", "new_plan", "expected_cost"),
    [
        ("MOBIL_M", 1999, "MOBIL_S", 12000),
        ("MOBIL_XL", 4499, "MOBIL_L", 18000),
        ("MOBIL_XL", 3500, "MOBIL_L", (3500 - 2999) * 12),  # difference to what the customer pays today
        ("FIBER_1000", 6999, "DSL_250", 24000),
    ],
)
def test_downgrade_cost_is_twelve_months_of_the_difference(plan: str, price: int, new_plan: str,
                                                           expected_cost: int) -> None:
    case = make_case(plan, price=price)
    choice = case.choose("price")
    assert_choice(choice, "DOWNGRADE", expected_cost, new_plan)


def test_upgrade_costs_nothing() -> None:
    case = make_case("MOBIL_S", tenure=12)
    assert_choice(case.choose("other"), "UPGRADE", 0, "MOBIL_M")


@pytest.mark.parametrize(
    ("max_cost", "expected"),
    [(0, "LIMITED"), (2400, "LIMITED"), (2399, "FALLBACK")],  # 0 means no limit
)
def test_max_cost_limit(max_cost: int, expected: str) -> None:
    case = make_case("MOBIL_M", price=1000)
    catalog = [
        custom_offer(1, "LIMITED", kind="discount", discount_percent=20, duration_months=12, max_cost_cents=max_cost),
        custom_offer(2, "FALLBACK", priority=50),
    ]
    choice = choose_offer(reason="other", customer=case.customer, contract=case.contract, catalog=catalog,
                          plans=case.plans, today=TODAY)
    assert choice is not None and choice.offer.code == expected


@pytest.mark.parametrize(
    ("offers", "expected"),
    [
        ([custom_offer(1, "LATE", priority=50), custom_offer(2, "EARLY", priority=10)], "EARLY"),
        ([custom_offer(2, "EARLY", priority=10), custom_offer(1, "LATE", priority=50)], "EARLY"),
        ([custom_offer(7, "B", priority=10), custom_offer(3, "A", priority=10)], "A"),  # tie: lower id first
        ([custom_offer(3, "A", priority=10), custom_offer(7, "B", priority=10)], "A"),
        ([custom_offer(5, "SAVED", priority=10), custom_offer(None, "NEW", priority=10)], "NEW"),  # unsaved: id 0
        # a better-placed offer that does not qualify is skipped, not fatal
        ([custom_offer(1, "FOR_PRICE", reasons="price", priority=1), custom_offer(2, "FOR_OTHER", priority=99)],
         "FOR_OTHER"),
        ([custom_offer(1, "LONG_TENURE", priority=1, min_tenure_months=120), custom_offer(2, "ANY", priority=2)],
         "ANY"),
        ([custom_offer(1, "HIGH_ONLY", priority=1, for_high_value=True), custom_offer(2, "ANY", priority=2)], "ANY"),
        ([custom_offer(1, "STD_ONLY", priority=2, for_high_value=False), custom_offer(2, "ANY", priority=1)], "ANY"),
        ([custom_offer(1, "SPACED", priority=1, reasons=" price , other "), custom_offer(2, "ANY", priority=2)],
         "SPACED"),
        ([custom_offer(1, "NO_KIND", kind="mystery", priority=1), custom_offer(2, "ANY", priority=2)], "ANY"),
    ],
)
def test_priority_order(offers: list[RetentionOffer], expected: str) -> None:
    case = make_case("MOBIL_M", "standard", tenure=6)
    choice = choose_offer(reason="other", customer=case.customer, contract=case.contract, catalog=offers,
                          plans=case.plans, today=TODAY)
    assert choice is not None and choice.offer.code == expected


@pytest.mark.parametrize(
    ("reason", "group", "plan", "tenure", "expected"),
    [
        ("moving", "standard", "MOBIL_M", 6, "RELOCATION"),  # before PAUSE_3, which also answers moving
        ("price", "standard", "MOBIL_M", 36, "DOWNGRADE"),  # before DISCOUNT_10 and LOYALTY_50
        ("price", "premium", "MOBIL_M", 36, "DISCOUNT_20"),  # before DOWNGRADE, DISCOUNT_10, LOYALTY_50
        ("competitor", "standard", "MOBIL_M", 6, "PRICE_MATCH_15"),  # same priority as DOWNGRADE, lower id
        ("not_using", "standard", "MOBIL_M", 6, "PAUSE_3"),  # before DOWNGRADE
        ("other", "standard", "MOBIL_M", 36, "UPGRADE"),  # before LOYALTY_50
    ],
)
def test_shipped_catalog_priority_regardless_of_catalog_order(reason: str, group: str, plan: str, tenure: int,
                                                              expected: str) -> None:
    case = make_case(plan, group, tenure=tenure)
    results = set()
    for seed in range(5):
        random.Random(seed).shuffle(case.catalog)
        choice = case.choose(reason)
        assert choice is not None
        results.add(choice.offer.code)
    case.catalog.reverse()
    results.add(case.choose(reason).offer.code)
    assert results == {expected}
