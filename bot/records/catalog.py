"""The tariff and retention-offer catalog that every installation starts with."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.records.models import Plan, RetentionOffer

PLANS: tuple[dict, ...] = (
    dict(code="MOBIL_S", name="Mobil S", category="mobile", tier=1, monthly_price_cents=999, description="5 GB, Allnet-Flat"),
    dict(code="MOBIL_M", name="Mobil M", category="mobile", tier=2, monthly_price_cents=1999, description="20 GB, Allnet-Flat, EU-Roaming"),
    dict(code="MOBIL_L", name="Mobil L", category="mobile", tier=3, monthly_price_cents=2999, description="50 GB, Allnet-Flat, EU-Roaming, 5G"),
    dict(code="MOBIL_XL", name="Mobil XL", category="mobile", tier=4, monthly_price_cents=4499, description="Unbegrenzt, 5G, Roaming weltweit 2 GB"),
    dict(code="DSL_50", name="Internet 50", category="internet", tier=1, monthly_price_cents=2999, description="50 Mbit/s, Telefon-Flat"),
    dict(code="DSL_100", name="Internet 100", category="internet", tier=2, monthly_price_cents=3999, description="100 Mbit/s, Telefon-Flat"),
    dict(code="DSL_250", name="Internet 250", category="internet", tier=3, monthly_price_cents=4999, description="250 Mbit/s, Telefon-Flat"),
    dict(code="FIBER_1000", name="Glasfaser 1000", category="internet", tier=4, monthly_price_cents=6999, description="1000 Mbit/s Glasfaser"),
)

OFFERS: tuple[dict, ...] = (
    dict(code="RELOCATION", kind="relocation", title="Umzugsservice", reasons="moving", priority=5),
    dict(code="PRICE_MATCH_25", kind="price_match", title="Preisangleich 25 % für 12 Monate", reasons="competitor",
         for_high_value=True, discount_percent=25, duration_months=12, max_cost_cents=20000, priority=10),
    dict(code="PRICE_MATCH_15", kind="price_match", title="Preisangleich 15 % für 12 Monate", reasons="competitor",
         for_high_value=False, discount_percent=15, duration_months=12, max_cost_cents=9000, priority=20),
    dict(code="DISCOUNT_20", kind="discount", title="20 % Treuerabatt für 12 Monate", reasons="price",
         for_high_value=True, discount_percent=20, duration_months=12, priority=10),
    dict(code="DOWNGRADE", kind="downgrade", title="Wechsel in den günstigeren Tarif", reasons="price,not_using,competitor",
         priority=20),
    dict(code="DISCOUNT_10", kind="discount", title="10 % Rabatt für 6 Monate", reasons="price,competitor",
         discount_percent=10, duration_months=6, priority=30),
    dict(code="PAUSE_3", kind="pause", title="Vertrag bis zu 3 Monate pausieren", reasons="not_using,moving",
         duration_months=3, priority=10),
    dict(code="GOODWILL_25", kind="goodwill_credit", title="25 € Kulanzgutschrift", reasons="technical,service",
         for_high_value=True, credit_cents=2500, priority=10),
    dict(code="GOODWILL_10", kind="goodwill_credit", title="10 € Kulanzgutschrift", reasons="technical,service",
         for_high_value=False, credit_cents=1000, priority=20),
    dict(code="UPGRADE", kind="upgrade", title="Größerer Tarif zum gleichen Preis", reasons="other",
         min_tenure_months=12, priority=10),
    dict(code="LOYALTY_50", kind="loyalty_bonus", title="50 € Treuebonus", reasons="other,price",
         min_tenure_months=24, credit_cents=5000, priority=40),
)


def ensure_catalog(session: Session) -> None:
    """Insert the catalog's plans and offers that the database does not have yet (by code)."""
    known_plans = set(session.scalars(select(Plan.code)))
    session.add_all(Plan(**plan) for plan in PLANS if plan["code"] not in known_plans)
    known_offers = set(session.scalars(select(RetentionOffer.code)))
    session.add_all(RetentionOffer(**offer) for offer in OFFERS if offer["code"] not in known_offers)
    session.flush()
