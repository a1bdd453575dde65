"""A customer's details as a typed row, shared by the CSV import and the demo personas."""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date


@dataclass(frozen=True)
class CustomerDetails:
    """Who the customer is: the `Customer` columns that an import file or a demo persona gives."""

    customer_number: str
    first_name: str
    last_name: str
    email: str
    postcode: str
    birth_date: date
    segment: str


@dataclass(frozen=True)
class CustomerRow(CustomerDetails):
    """The details plus the date the customer has been with us: everything a `Customer` record needs."""

    customer_since: date

    @classmethod
    def of(cls, details: CustomerDetails, *, customer_since: date) -> CustomerRow:
        return cls(**{f.name: getattr(details, f.name) for f in fields(CustomerDetails)},
                   customer_since=customer_since)

    def columns(self) -> dict[str, object]:
        """The `Customer` column values to write; the customer number identifies the record and is left out."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "customer_number"}
