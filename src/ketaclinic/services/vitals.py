"""What staff may type in: plausible ranges, and dates that have already happened.

A value outside its range is a typing error (a systolic of 1200, a weight of 7000 kg), refused
with the field named before anything is written. These are data-entry limits, not clinical
thresholds: the screening rules and their thresholds live in ``clinical/`` and ``policy.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ketaclinic.services.clock import Clock
from ketaclinic.services.errors import InvalidInput

BAD_INPUT = "issue 4, 'Bad input' (data-entry limits)"
SCALES = "clinical-facts.md, 'Rating scales' (item and total ranges)"

# The earliest time zone (UTC+14, Line Islands) reaches a calendar day first: a date is in the
# future only once it is in the future everywhere, so a clinic east of UTC can enter today's date
# in the morning, when the UTC date is still yesterday.
_EARLIEST_ZONE = timedelta(hours=14)


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    unit: str
    source: str

    def check(self, field: str, value: float) -> None:
        if not self.low <= value <= self.high:
            unit = f" {self.unit}" if self.unit else ""
            raise InvalidInput(
                field, f"must be between {self.low:g} and {self.high:g}{unit} (got {value:g})"
            )


SYSTOLIC = Range(50, 300, "mmHg", BAD_INPUT)
DIASTOLIC = Range(20, 200, "mmHg", BAD_INPUT)
HEART_RATE = Range(20, 300, "/min", BAD_INPUT)
SPO2 = Range(50, 100, "%", BAD_INPUT)
WEIGHT = Range(2, 400, "kg", BAD_INPUT)
PHQ9_TOTAL = Range(0, 27, "", SCALES)
PHQ9_ITEM = Range(0, 3, "", SCALES)
GAD7_TOTAL = Range(0, 21, "", SCALES)


def check_not_negative(field: str, value: float) -> None:
    if value < 0:
        raise InvalidInput(field, f"cannot be negative (got {value:g})")


def check_positive(field: str, value: float) -> None:
    if value <= 0:
        raise InvalidInput(field, f"must be more than 0 (got {value:g})")


def as_utc(moment: datetime) -> datetime:
    """Naive UTC, as stored; a naive time is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def check_not_future(field: str, when: date | datetime | None, clock: Clock) -> None:
    if when is None:
        return
    now = clock.now()
    if isinstance(when, datetime):
        if as_utc(when) > now:
            raise InvalidInput(field, f"is in the future ({when.isoformat()})")
        return
    if when > (now + _EARLIEST_ZONE).date():
        raise InvalidInput(field, f"is in the future ({when.isoformat()})")


def check_order(field: str, start: date | None, end: date | None) -> None:
    """An end (named by ``field``) cannot come before its start."""
    if start is not None and end is not None and end < start:
        raise InvalidInput(
            field, f"cannot be before the start ({end.isoformat()} < {start.isoformat()})"
        )


def check_text(field: str, value: str | None, *, limit: int, required: bool = False) -> str | None:
    """Trimmed text, None when blank; refused when required and blank, or longer than the column."""
    cleaned = value.strip() if value is not None else ""
    if not cleaned:
        if required:
            raise InvalidInput(field, "is required")
        return None
    if len(cleaned) > limit:
        raise InvalidInput(field, f"is too long ({len(cleaned)} characters, at most {limit})")
    return cleaned
