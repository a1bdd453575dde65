"""German labels and number formats for the marketing dashboard (codes stay codes in links and the CSV)."""
from __future__ import annotations

from bot.console.labels import CHANNELS, SEGMENTS
from bot.retention.formatting import euro

REASONS = {
    "price": "Preis", "competitor": "Wechsel zu Mitbewerber", "not_using": "Nutze es nicht", "moving": "Umzug",
    "technical": "Technik", "service": "Service", "other": "Sonstiges", "none": "kein Grund genannt",
}
OFFER_KINDS = {
    "discount": "Rabatt", "price_match": "Preisangleich", "downgrade": "Günstigerer Tarif", "pause": "Pause",
    "goodwill_credit": "Kulanzgutschrift", "upgrade": "Größerer Tarif", "relocation": "Umzugsservice",
}
FUNNEL_STEPS = {
    "intent": "Kündigungsabsicht", "reason": "Grund genannt", "offer": "Angebot gemacht",
    "accepted": "Angenommen", "cancelled": "Gekündigt", "handed_off": "An Mitarbeiter übergeben",
}
OUTCOMES = {
    "open": "offen", "resolved": "gelöst", "offer_accepted": "Angebot angenommen", "cancelled": "gekündigt",
    "handed_off": "übergeben", "abandoned": "abgebrochen",
}
SAVE_STATUSES = {"held": "gehalten", "pending": "ausstehend", "lost": "verloren"}
DIMENSIONS = {"reason": "Grund", "offer_kind": "Angebotsart", "segment": "Kundengruppe", "step": "Schritt",
              "day": "Tag"}
KPI_LABELS = {
    "conversations": "Gespräche", "customers": "Kunden", "cancellation_intents": "Kündigungsabsichten",
    "save_rate": "Halterate", "saves_held": "Gehaltene Kunden", "saves_pending": "Ausstehende Rettungen",
    "saves_lost": "Verlorene Rettungen", "revenue_retained_cents": "Gehaltener Umsatz",
    "offer_cost_cents": "Kosten der Angebote", "cancellations": "Bearbeitete Kündigungen",
    "handoff_rate": "Übergaberate", "median_wait_seconds": "Wartezeit (Median)", "fallback_rate": "Nicht verstanden",
    "average_rating": "Bewertung (Durchschnitt)",
}
RATES = frozenset({"save_rate", "handoff_rate", "fallback_rate"})
MONEY = frozenset({"revenue_retained_cents", "offer_cost_cents"})

__all__ = ["CHANNELS", "SEGMENTS", "label", "kpi_value", "kpi_change"]


def label(dimension: str, code: str | None) -> str:
    """The German name of a code of a dimension (reason, offer_kind, segment, step, channel, outcome)."""
    if code is None:
        return "–"
    table = {"reason": REASONS, "offer_kind": OFFER_KINDS, "segment": SEGMENTS, "step": FUNNEL_STEPS,
             "channel": CHANNELS, "outcome": OUTCOMES, "save_status": SAVE_STATUSES}.get(dimension, {})
    return table.get(code, code)


def _number(value: float, digits: int = 0) -> str:
    text = f"{value:,.{digits}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(abs(seconds))), 60)
    return f"{minutes}:{rest:02d} min"


def kpi_value(name: str, value: float | int | None) -> str:
    if value is None:
        return "–"
    if name in RATES:
        return _number(value * 100, 1) + " %"
    if name in MONEY:
        return euro(int(value))
    if name == "median_wait_seconds":
        return _duration(value)
    if name == "average_rating":
        return _number(value, 1)
    return _number(value)


def kpi_change(name: str, change: float | int | None) -> str:
    """The change against the previous period, with its sign (rates in percentage points)."""
    if change is None:
        return "–"
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    if name in RATES:
        return f"{sign}{_number(abs(change) * 100, 1)} Pp."
    if name in MONEY:
        return sign + euro(int(abs(change)))
    if name == "median_wait_seconds":
        return sign + _duration(change)
    if name == "average_rating":
        return sign + _number(abs(change), 1)
    return sign + _number(abs(change))
