"""Realistic, reproducible German demo customers for development, demos and tests.

`seed_demo_customers` first creates the fixed personas (always the same values, dates relative
to `today`) that the conversation tests and the README use, then generated customers up to
`count` in all, drawn from a seeded random generator: the same seed and `today` give the same records.
"""
from __future__ import annotations

import calendar
import logging
import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.records.catalog import ensure_catalog
from bot.records.models import (
    ACTIVE,
    CANCELLED,
    PAUSED,
    Cancellation,
    Complaint,
    Contract,
    Customer,
    Invoice,
    Plan,
)
from bot.records.rows import CustomerDetails, CustomerRow
from bot.retention.dates import add_months, effective_cancellation_date
from bot.retention.formatting import BERLIN

logger = logging.getLogger(__name__)

# Customer numbers K100001..K100099 are reserved for personas; generated ones start above.
RESERVED_CUSTOMER_NUMBERS = range(100001, 100100)
EMAIL_DOMAINS = ("mail.example", "post.example", "web.example", "netz.example", "online.example")
SEGMENT_WEIGHTS = {"standard": 80, "premium": 15, "business": 5}
INVOICE_MONTHS = 3
INVOICE_DUE_DAYS = 14


@dataclass(frozen=True)
class PersonaComplaint:
    days_ago: int
    at: time
    category: str
    description: str
    resolved: bool = False


@dataclass(frozen=True)
class PersonaContract:
    """A further active contract of a persona; month offsets are relative to `today`."""

    contract_number: str
    plan_code: str
    start_months: int
    term_end_months: int | None = None  # None: 24 months after the start
    notice_period_months: int = 1


@dataclass(frozen=True)
class Persona(CustomerDetails):
    """A fixed demo customer with one active contract (or more); month offsets are relative to `today`."""

    customer_since_months: int
    contract_number: str
    plan_code: str
    contract_start_months: int | None  # None: the contract starts on customer_since
    term_end_months: int | None  # None: 24 months after the contract start
    notice_period_months: int = 1
    complaints: tuple[PersonaComplaint, ...] = ()
    more_contracts: tuple[PersonaContract, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def customer_since(self, today: date) -> date:
        return add_months(today, self.customer_since_months)

    def customer_row(self, today: date) -> CustomerRow:
        return CustomerRow.of(self, customer_since=self.customer_since(today))

    def contract_start(self, today: date) -> date:
        if self.contract_start_months is None:
            return self.customer_since(today)
        return add_months(today, self.contract_start_months)

    def minimum_term_end(self, today: date) -> date:
        if self.term_end_months is None:
            return add_months(self.contract_start(today), 24)
        return add_months(today, self.term_end_months)


PERSONAS: tuple[Persona, ...] = (
    Persona("K100001", "Anna", "Schmidt", "anna.schmidt@mail.example", "10115", date(1985, 4, 12), "standard",
            customer_since_months=-30, contract_number="V10000001", plan_code="MOBIL_L",
            contract_start_months=None, term_end_months=None),
    Persona("K100002", "Jonas", "Becker", "jonas.becker@mail.example", "80331", date(1972, 11, 3), "premium",
            customer_since_months=-130, contract_number="V10000002", plan_code="DSL_250",
            contract_start_months=-19, term_end_months=5),
    Persona("K100003", "Fatma", "Yilmaz", "fatma.yilmaz@mail.example", "50667", date(1990, 7, 28), "standard",
            customer_since_months=-10, contract_number="V10000003", plan_code="DSL_100",
            contract_start_months=None, term_end_months=None),
    Persona("K100004", "Lukas", "Weber", "lukas.weber@mail.example", "20095", date(1968, 2, 29), "business",
            customer_since_months=-60, contract_number="V10000004", plan_code="DSL_50",
            contract_start_months=-14, term_end_months=10, notice_period_months=3,
            complaints=(
                PersonaComplaint(44, time(20, 15), "technical", "Internet fällt abends regelmäßig aus"),
                PersonaComplaint(11, time(19, 40), "technical", "Router verliert ständig die Verbindung"),
            )),
    Persona("K100005", "Marie", "Keller", "marie.keller@mail.example", "01067", date(2001, 9, 15), "standard",
            customer_since_months=-4, contract_number="V10000005", plan_code="MOBIL_S",
            contract_start_months=None, term_end_months=None),
    # Two running contracts each: every request about one contract asks which one is meant.
    Persona("K100006", "Thomas", "Richter", "thomas.richter@mail.example", "04109", date(1979, 6, 21), "standard",
            customer_since_months=-40, contract_number="V10000006", plan_code="MOBIL_M",
            contract_start_months=None, term_end_months=None,
            more_contracts=(PersonaContract("V10000016", "DSL_100", start_months=-20),)),
    Persona("K100007", "Elena", "Hoffmann", "elena.hoffmann@mail.example", "70173", date(1994, 1, 7), "premium",
            customer_since_months=-50, contract_number="V10000007", plan_code="MOBIL_L",
            contract_start_months=-14, term_end_months=10,
            more_contracts=(PersonaContract("V10000017", "FIBER_1000", start_months=-8),)),
)


@dataclass(frozen=True)
class NameOrigin:
    """First and last names of families of one origin as they appear in Germany.

    A last name written "Kowalski/Kowalska" has a male and a female form.
    """

    weight: int
    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]


# German first names by generation: born before 1965, 1965-1984, from 1985.
_GERMAN_FEMALE = (
    ("Ursula", "Helga", "Renate", "Monika", "Brigitte", "Karin", "Ingrid", "Gisela", "Christa", "Elke", "Gabriele",
     "Erika", "Hannelore", "Marianne", "Barbara", "Doris", "Heike", "Petra", "Angelika", "Waltraud", "Irmgard",
     "Rosemarie", "Jutta", "Bärbel", "Sigrid", "Edeltraud"),
    ("Sandra", "Andrea", "Stefanie", "Nicole", "Claudia", "Susanne", "Katrin", "Anja", "Tanja", "Kerstin", "Birgit",
     "Melanie", "Silke", "Julia", "Christina", "Nadine", "Daniela", "Simone", "Katharina", "Yvonne", "Manuela",
     "Sabine", "Martina", "Antje", "Ines"),
    ("Laura", "Lena", "Lea", "Sarah", "Anna", "Hannah", "Lisa", "Sophie", "Marie", "Leonie", "Johanna", "Jana",
     "Michelle", "Vanessa", "Jennifer", "Lara", "Emily", "Mia", "Clara", "Charlotte", "Franziska", "Annika",
     "Celina", "Jasmin", "Luisa", "Paula"),
)
_GERMAN_MALE = (
    ("Klaus", "Peter", "Hans", "Jürgen", "Wolfgang", "Dieter", "Günter", "Horst", "Manfred", "Gerhard", "Bernd",
     "Werner", "Heinz", "Rolf", "Uwe", "Helmut", "Karl-Heinz", "Rainer", "Hans-Peter", "Norbert", "Lothar",
     "Siegfried", "Reinhard", "Detlef", "Volker"),
    ("Thomas", "Michael", "Andreas", "Stefan", "Frank", "Markus", "Christian", "Martin", "Jörg", "Sven", "Oliver",
     "Matthias", "Alexander", "Tobias", "Daniel", "Sebastian", "Dirk", "Carsten", "Holger", "Ralf", "Torsten",
     "Marco", "Thorsten", "Jens", "André"),
    ("Lukas", "Jonas", "Leon", "Felix", "Maximilian", "Paul", "Niklas", "Tim", "Jan", "Finn", "Moritz", "Philipp",
     "Luca", "Julian", "David", "Florian", "Kevin", "Dennis", "Marcel", "Fabian", "Nils", "Tom", "Ben", "Elias",
     "Noah", "Jannik"),
)

NAME_ORIGINS: dict[str, NameOrigin] = {
    "german": NameOrigin(
        weight=76, female=(), male=(),  # first names by generation, see _GERMAN_FEMALE / _GERMAN_MALE
        last=("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
              "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz",
              "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz",
              "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter",
              "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn",
              "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck",
              "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus",
              "Martin", "Schumacher", "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel",
              "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler", "Kuhn", "Kühn",
              "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Thomas", "Voigt", "Sauer", "Arnold", "Wolff",
              "Pfeiffer", "Brinkmann", "Ernst", "Hübner", "Kramer", "Lindner", "Petersen", "Thiele", "Wendt")),
    "turkish": NameOrigin(
        weight=9,
        female=("Ayse", "Fatma", "Emine", "Elif", "Zeynep", "Merve", "Esra", "Derya", "Aylin", "Selin", "Melek",
                "Hatice", "Gül", "Leyla", "Büsra", "Dilara", "Sibel", "Songül"),
        male=("Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Hasan", "Ibrahim", "Murat", "Emre", "Can", "Burak",
              "Yusuf", "Kemal", "Serkan", "Deniz", "Cem", "Volkan", "Ömer"),
        last=("Yilmaz", "Kaya", "Demir", "Sahin", "Celik", "Yildiz", "Yildirim", "Öztürk", "Aydin", "Özdemir",
              "Arslan", "Dogan", "Kilic", "Aslan", "Cetin", "Koc", "Kurt", "Özkan", "Polat", "Erdem", "Acar",
              "Güler", "Tekin", "Korkmaz")),
    "polish": NameOrigin(
        weight=6,
        female=("Katarzyna", "Agnieszka", "Magdalena", "Joanna", "Anna", "Małgorzata", "Ewa", "Monika", "Justyna",
                "Karolina", "Natalia", "Dorota", "Beata"),
        male=("Piotr", "Krzysztof", "Tomasz", "Paweł", "Marek", "Michał", "Łukasz", "Andrzej", "Jakub", "Marcin",
              "Grzegorz", "Wojciech", "Dariusz"),
        last=("Nowak", "Kowalski/Kowalska", "Wiśniewski/Wiśniewska", "Wójcik", "Kamiński/Kamińska",
              "Lewandowski/Lewandowska", "Zieliński/Zielińska", "Szymański/Szymańska", "Woźniak",
              "Dąbrowski/Dąbrowska", "Kozłowski/Kozłowska", "Mazur", "Krawczyk", "Kaczmarek",
              "Jankowski/Jankowska", "Grabowski/Grabowska", "Pawlak", "Michalski/Michalska")),
    "russian": NameOrigin(
        weight=5,
        female=("Olga", "Natalia", "Tatjana", "Swetlana", "Irina", "Jelena", "Anastasia", "Jekaterina", "Marina",
                "Ljudmila", "Oksana", "Walentina", "Xenia"),
        male=("Sergej", "Dmitri", "Andrej", "Wladimir", "Nikolai", "Viktor", "Juri", "Igor", "Maxim", "Pawel",
              "Artjom", "Alexej", "Waldemar", "Eduard"),
        last=("Iwanow/Iwanowa", "Petrow/Petrowa", "Smirnow/Smirnowa", "Kusnezow/Kusnezowa", "Popow/Popowa",
              "Wolkow/Wolkowa", "Sokolow/Sokolowa", "Morosow/Morosowa", "Lebedew/Lebedewa", "Nowikow/Nowikowa",
              "Bondarenko", "Schewtschenko", "Kowalenko", "Fedorow/Fedorowa", "Orlow/Orlowa")),
    "italian": NameOrigin(
        weight=4,
        female=("Giulia", "Francesca", "Chiara", "Alessandra", "Sara", "Valentina", "Maria", "Federica", "Elena",
                "Martina", "Rosa", "Teresa"),
        male=("Giuseppe", "Marco", "Antonio", "Giovanni", "Luca", "Francesco", "Alessandro", "Salvatore", "Matteo",
              "Stefano", "Roberto", "Vincenzo"),
        last=("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
              "Bruno", "Gallo", "Conti", "De Luca", "Costa", "Lombardi", "Moretti", "Barbieri", "Fontana",
              "Caruso", "Di Stefano")),
}

# Share of the population by the postcode's first digit (Leitzone), roughly as in Germany.
POSTCODE_ZONE_WEIGHTS = {"0": 7, "1": 9, "2": 10, "3": 10, "4": 13, "5": 11, "6": 10, "7": 11, "8": 10, "9": 9}
_UNUSED_POSTCODE_REGIONS = frozenset({"00", "05", "11", "43", "62"})

_PLAN_TIER_WEIGHTS = {1: 25, 2: 35, 3: 25, 4: 15}
_PREMIUM_PLAN_TIER_WEIGHTS = {1: 10, 2: 25, 3: 35, 4: 30}

_COMPLAINT_TEXTS: dict[str, tuple[str, ...]] = {
    "technical_internet": (
        "Internet bricht mehrmals täglich ab.",
        "Die Geschwindigkeit liegt deutlich unter der gebuchten Bandbreite.",
        "Router startet ständig von selbst neu.",
        "Festnetztelefonie gestört, der Gesprächspartner hört mich kaum.",
        "Seit drei Tagen Totalausfall des Anschlusses.",
        "Abends ist das Internet extrem langsam.",
        "WLAN reicht nicht bis ins Obergeschoss, Router zu schwach.",
    ),
    "technical_mobile": (
        "Kein Empfang in der Wohnung, nur am Fenster.",
        "Mobile Daten funktionieren nach dem Update nicht mehr.",
        "5G wird trotz Tarif nicht angezeigt.",
        "Gespräche brechen im Zug ständig ab.",
        "eSIM lässt sich auf dem neuen Handy nicht aktivieren.",
        "SMS kommen nur verspätet an.",
    ),
    "billing": (
        "Rechnungsbetrag wurde doppelt abgebucht.",
        "Drittanbieter-Abo auf der Rechnung, das ich nie bestellt habe.",
        "Vereinbarter Rabatt fehlt auf der Rechnung.",
        "Roaminggebühren berechnet, obwohl ich nur in der EU war.",
        "Rechnung höher als im Vertrag vereinbart.",
        "Lastschrift wurde zu früh eingezogen.",
        "Zugesagte Gutschrift fehlt auf der letzten Rechnung.",
    ),
    "service": (
        "Hotline stundenlang nicht erreichbar.",
        "Techniker ist zum vereinbarten Termin nicht erschienen.",
        "Zugesagter Rückruf kam nie.",
        "Unfreundliche Beratung im Shop.",
        "Seit zwei Wochen keine Antwort auf meine E-Mail.",
        "Die neue SIM-Karte kam erst nach drei Wochen an.",
        "Adressänderung wurde nicht übernommen.",
    ),
    "price": (
        "Preiserhöhung ist nicht nachvollziehbar.",
        "Neukunden bekommen denselben Tarif deutlich günstiger.",
        "Tarif ist im Vergleich zur Konkurrenz zu teuer.",
        "Nach Ende des Aktionspreises viel höhere Kosten.",
        "Bereitstellungsgebühr wurde vorher nicht erwähnt.",
    ),
}
_COMPLAINT_CATEGORY_WEIGHTS = {"technical": 40, "billing": 25, "service": 20, "price": 15}
_CANCELLATION_REASONS = ("price", "competitor", "moving", "not_using", "service", "technical", "other")
_CONFIRMATION_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ı": "i", "ł": "l", "ø": "o"})


def email_safe(text: str) -> str:
    """A name as it appears in an e-mail address: 'Müller' -> 'mueller', 'De Luca' -> 'deluca'."""
    lowered = text.lower().translate(_TRANSLITERATION)
    ascii_text = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in ascii_text if ch.isalnum() or ch == "-")


def _weighted(rng: random.Random, weights: dict) -> object:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max((last - first).days, 0)))


def _first_of_month(day: date) -> date:
    return day.replace(day=1)


@dataclass
class _Generator:
    """State of one seeding run: the random source, the plans and the numbers handed out so far."""

    rng: random.Random
    today: date
    plans: dict[str, list[Plan]]  # by category, ordered by tier
    emails: set[str]
    invoice_sequence: int = 0

    # --- people -------------------------------------------------------------------------

    def name(self, birth_year: int) -> tuple[str, str]:
        rng = self.rng
        origin_key = _weighted(rng, {key: origin.weight for key, origin in NAME_ORIGINS.items()})
        origin = NAME_ORIGINS[origin_key]
        female = rng.random() < 0.5
        generation = 0 if birth_year < 1965 else 1 if birth_year < 1985 else 2
        german_first = (_GERMAN_FEMALE if female else _GERMAN_MALE)[generation]
        if origin_key == "german" or rng.random() < 0.12:  # second generation often has a German first name
            first = rng.choice(german_first)
        else:
            first = rng.choice(origin.female if female else origin.male)
        last = rng.choice(origin.last)
        if "/" in last:
            male_form, female_form = last.split("/")
            last = female_form if female else male_form
        return first, last

    def email(self, first: str, last: str, birth: date) -> str:
        rng = self.rng
        f, lname = email_safe(first), email_safe(last)
        local = rng.choice((
            f"{f}.{lname}", f"{f}.{lname}", f"{f[0]}.{lname}", f"{f}{lname}", f"{lname}.{f}",
            f"{f}.{lname}{birth.year % 100:02d}", f"{f}_{lname}", f"{lname}{birth.year}",
        ))
        domain = rng.choices(EMAIL_DOMAINS, weights=(35, 20, 20, 15, 10))[0]
        address, suffix = f"{local}@{domain}", 2
        while address in self.emails:
            address, suffix = f"{local}{suffix}@{domain}", suffix + 1
        self.emails.add(address)
        return address

    def postcode(self) -> str:
        rng = self.rng
        zone = _weighted(rng, POSTCODE_ZONE_WEIGHTS)
        region = f"{zone}{rng.randint(0, 9)}"
        while region in _UNUSED_POSTCODE_REGIONS:
            region = f"{zone}{rng.randint(0, 9)}"
        return f"{region}{rng.randint(1, 999):03d}"

    def birth_date(self) -> date:
        last_year = min(2006, self.today.year - 18)
        year = round(self.rng.triangular(1940, last_year, 1975))
        return _random_day(self.rng, date(year, 1, 1), date(year, 12, 31))

    def customer_since(self, birth: date) -> date:
        latest = self.today - timedelta(days=14)
        earliest = min(max(date(2008, 1, 1), add_months(birth, 18 * 12)), latest)
        return _random_day(self.rng, earliest, latest)

    # --- contracts ----------------------------------------------------------------------

    def plan(self, category: str, segment: str) -> Plan:
        weights = _PREMIUM_PLAN_TIER_WEIGHTS if segment != "standard" else _PLAN_TIER_WEIGHTS
        plans = self.plans[category]
        return self.rng.choices(plans, weights=[weights.get(p.tier, 10) for p in plans])[0]

    def price(self, plan: Plan, start: date) -> int:
        """The plan price; some contracts older than three years still run at an older, lower price."""
        price = plan.monthly_price_cents
        if start < add_months(self.today, -36) and self.rng.random() < 0.35:
            price -= 100 * self.rng.randint(1, 3)
        return max(price, 499)

    def minimum_term_end(self, start: date) -> date:
        """24 months from the start; older contracts were renewed (end ahead) or run monthly (end past)."""
        first_term_end = add_months(start, 24)
        if first_term_end > self.today or self.rng.random() < 0.55:
            return first_term_end
        ahead = add_months(self.today, self.rng.randint(1, 12 if start.day <= self.today.day else 11))
        # Renewed on the start's day of the month.
        return ahead.replace(day=min(start.day, calendar.monthrange(ahead.year, ahead.month)[1]))

    def contract(self, customer: Customer, category: str, start: date) -> Contract:
        rng = self.rng
        plan = self.plan(category, customer.segment)
        notice = 3 if (start < date(2022, 3, 1) or customer.segment == "business") and rng.random() < 0.12 else 1
        return Contract(
            contract_number="",  # assigned by the caller
            customer=customer,
            plan=plan,
            monthly_price_cents=self.price(plan, start),
            start_date=start,
            minimum_term_end=self.minimum_term_end(start),
            notice_period_months=notice,
            status=ACTIVE,
            discount_percent=0,
        )

    def set_status(self, contract: Contract) -> tuple[date | None, Cancellation | None]:
        """Cancel (about 6 %) or pause (about 3 %) some contracts; returns the pause start and the cancellation."""
        rng, today = self.rng, self.today
        roll = rng.random()
        if roll < 0.06:
            requested_on = today - timedelta(days=rng.randint(1, 25))
            effective = effective_cancellation_date(contract, requested_on)
            contract.status = CANCELLED
            contract.cancellation_effective_date = effective
            requested_at = datetime.combine(requested_on, time(rng.randint(8, 20), rng.randint(0, 59)), tzinfo=BERLIN)
            cancellation = Cancellation(
                requested_at=requested_at, effective_date=effective,
                reason=rng.choice(_CANCELLATION_REASONS), channel=rng.choice(("phone", "letter", "email")),
                confirmation_number="KB-" + "".join(rng.choice(_CONFIRMATION_ALPHABET) for _ in range(8)),
            )
            return None, cancellation
        if roll < 0.09:
            pause_start = today - timedelta(days=rng.randint(1, 40))
            contract.status = PAUSED
            contract.paused_until = add_months(pause_start, rng.randint(2, 3))
            contract.last_pause_end = contract.paused_until
            return pause_start, None
        return None, None

    # --- history ------------------------------------------------------------------------

    def invoices(self, contract: Contract, *, billed_before: date | None = None,
                 may_be_overdue: bool = True) -> list[Invoice]:
        """The last three monthly invoices: the current one open, older ones paid (a few overdue)."""
        this_month = _first_of_month(self.today)
        invoices: list[Invoice] = []
        for months_back in range(INVOICE_MONTHS - 1, -1, -1):
            period_start = add_months(this_month, -months_back)
            if period_start < _first_of_month(contract.start_date):
                continue
            if billed_before is not None and period_start > billed_before:
                continue
            if months_back == 0:
                status = "open"
            else:
                status = "overdue" if may_be_overdue and self.rng.random() < 0.04 else "paid"
            self.invoice_sequence += 1
            invoices.append(Invoice(
                invoice_number=f"R{period_start:%Y%m}{self.invoice_sequence:05d}",
                contract_id=contract.id,
                period_start=period_start,
                amount_cents=contract.monthly_price_cents,
                due_date=period_start + timedelta(days=INVOICE_DUE_DAYS),
                status=status,
            ))
        return invoices

    def complaints(self, customer: Customer, category_of_contract: str) -> list[Complaint]:
        """For about 30 % of customers, 1 to 4 complaints from the last 18 months."""
        rng, today = self.rng, self.today
        if rng.random() >= 0.30:
            return []
        earliest = max(today - timedelta(days=540), customer.customer_since)
        complaints = []
        for _ in range(rng.choices((1, 2, 3, 4), weights=(50, 28, 14, 8))[0]):
            category = _weighted(rng, _COMPLAINT_CATEGORY_WEIGHTS)
            texts_key = f"technical_{category_of_contract}" if category == "technical" else category
            day = _random_day(rng, earliest, today - timedelta(days=1))
            recent = (today - day).days < 60
            complaints.append(Complaint(
                customer=customer,
                created_at=datetime.combine(day, time(rng.randint(7, 21), rng.randint(0, 59)), tzinfo=BERLIN),
                category=category,
                description=rng.choice(_COMPLAINT_TEXTS[texts_key]),
                resolved=rng.random() < (0.4 if recent else 0.85),
            ))
        return sorted(complaints, key=lambda c: c.created_at)


def _persona_records(persona: Persona, by_code: dict[str, Plan],
                     today: date) -> tuple[Customer, list[Contract], list[Complaint]]:
    customer = Customer(customer_number=persona.customer_number, language="de",
                        **persona.customer_row(today).columns())
    plan = by_code[persona.plan_code]
    contracts = [Contract(
        contract_number=persona.contract_number, customer=customer, plan=plan,
        monthly_price_cents=plan.monthly_price_cents, start_date=persona.contract_start(today),
        minimum_term_end=persona.minimum_term_end(today), notice_period_months=persona.notice_period_months,
        status=ACTIVE, discount_percent=0,
    )]
    for more in persona.more_contracts:
        plan = by_code[more.plan_code]
        start = add_months(today, more.start_months)
        contracts.append(Contract(
            contract_number=more.contract_number, customer=customer, plan=plan,
            monthly_price_cents=plan.monthly_price_cents, start_date=start,
            minimum_term_end=add_months(start, 24) if more.term_end_months is None
            else add_months(today, more.term_end_months),
            notice_period_months=more.notice_period_months, status=ACTIVE, discount_percent=0,
        ))
    complaints = [
        Complaint(customer=customer, created_at=datetime.combine(today - timedelta(days=c.days_ago), c.at, tzinfo=BERLIN),
                  category=c.category, description=c.description, resolved=c.resolved)
        for c in persona.complaints
    ]
    return customer, contracts, complaints


def _existing_customer_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


def _plans(session: Session) -> tuple[dict[str, list[Plan]], dict[str, Plan]]:
    plans = list(session.scalars(select(Plan).where(Plan.active.is_(True)).order_by(Plan.category, Plan.tier)))
    by_category: dict[str, list[Plan]] = {}
    for plan in plans:
        by_category.setdefault(plan.category, []).append(plan)
    if not {"mobile", "internet"} <= by_category.keys():
        raise ValueError("The plan catalog needs active mobile and internet plans before demo customers can be "
                         "created; check the plans table.")
    return by_category, {plan.code: plan for plan in session.scalars(select(Plan))}


def seed_demo_customers(session: Session, *, count: int = 300, seed: int = 42, today: date) -> int:
    """Create `count` demo customers in all: the personas (always) and generated ones; returns how many.

    Ensures the catalog first. Does nothing (returns 0) when the database already has customers,
    so it is safe to run on every start.
    """
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    ensure_catalog(session)
    if _existing_customer_count(session):
        logger.info("Customers already exist; no demo customers created")
        return 0
    by_category, by_code = _plans(session)
    generator = _Generator(rng=random.Random(seed), today=today, plans=by_category,
                           emails={p.email for p in PERSONAS})

    customers: list[Customer] = []
    contracts: list[Contract] = []
    complaints: list[Complaint] = []
    for persona in PERSONAS:
        customer, persona_contracts, persona_complaints = _persona_records(persona, by_code, today)
        customers.append(customer)
        contracts.extend(persona_contracts)
        complaints.extend(persona_complaints)
    persona_contract_count = len(contracts)

    rng = generator.rng
    generated = max(count - len(PERSONAS), 0)
    customer_numbers = rng.sample(range(RESERVED_CUSTOMER_NUMBERS.stop, 1_000_000), generated)
    contract_numbers = iter(rng.sample(range(10_000_100, 100_000_000), 2 * generated))
    pause_starts: dict[int, date] = {}  # by id() of the contract object
    cancellations: list[tuple[Contract, Cancellation]] = []
    for number in customer_numbers:
        birth = generator.birth_date()
        first, last = generator.name(birth.year)
        customer = Customer(
            customer_number=f"K{number:06d}", first_name=first, last_name=last,
            email=generator.email(first, last, birth), postcode=generator.postcode(), birth_date=birth,
            language="de", segment=_weighted(rng, SEGMENT_WEIGHTS), customer_since=generator.customer_since(birth),
        )
        customers.append(customer)
        categories = ["mobile", "internet"] if rng.random() < 0.55 else ["internet", "mobile"]
        if rng.random() >= 0.15:
            categories = categories[:1]
        for category in categories:
            if category == categories[0] and rng.random() < 0.55:
                start = customer.customer_since
            else:
                start = _random_day(rng, customer.customer_since, today - timedelta(days=7))
            contract = generator.contract(customer, category, start)
            contract.contract_number = f"V{next(contract_numbers):08d}"
            pause_start, cancellation = generator.set_status(contract)
            if pause_start is not None:
                pause_starts[id(contract)] = pause_start
            if cancellation is not None:
                cancellations.append((contract, cancellation))
            contracts.append(contract)
        complaints.extend(generator.complaints(customer, categories[0]))

    session.add_all(customers)
    session.add_all(contracts)
    session.flush()  # contract and customer ids for invoices and cancellations

    invoices: list[Invoice] = []
    for index, contract in enumerate(contracts):
        invoices.extend(generator.invoices(contract, billed_before=pause_starts.get(id(contract)),
                                           may_be_overdue=index >= persona_contract_count))
    for contract, cancellation in cancellations:
        cancellation.contract_id = contract.id
        cancellation.customer_id = contract.customer.id
    session.add_all(invoices)
    session.add_all(complaints)
    session.add_all(cancellation for _, cancellation in cancellations)
    session.flush()
    logger.info("Created %d demo customers (%d personas) with %d contracts, %d invoices and %d complaints",
                len(customers), len(PERSONAS), len(contracts), len(invoices), len(complaints))
    return len(customers)


def persona(customer_number: str) -> Persona:
    """The persona with this customer number (KeyError names the known ones)."""
    for candidate in PERSONAS:
        if candidate.customer_number == customer_number:
            return candidate
    known = ", ".join(p.customer_number for p in PERSONAS)
    raise KeyError(f"no persona {customer_number}; the personas are {known}")

