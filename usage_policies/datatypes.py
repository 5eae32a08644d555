"""Typed values for XML Schema datatypes: conversion from JSON-LD literals and durations.

Python types used for values: ``str`` (xsd:string), ``Iri`` (IRIs and xsd:anyURI), ``int``,
``Decimal`` and ``float`` (numbers), ``bool``, ``date``, timezone-aware ``datetime``,
``Duration`` (xsd:duration) and ``ElapsedTime`` (a duration anchored at a start instant, so
that ``elapsedTime lteq P1M`` compares with calendar months exactly).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from usage_policies.errors import DatatypeError
from usage_policies.vocab import RDF, XSD

# Timezone-less xsd:dateTime and xsd:date values are read in Japan time (the project's
# display zone), documented in docs/usage-policies.md. A fixed UTC+9 rather than
# ZoneInfo("Asia/Tokyo"): Japan has had no daylight saving time since 1951, and the fixed
# offset needs no system time-zone database (hosts and containers without one must still
# import this module, and every host must decide the same way).
LOCAL_TZ = timezone(timedelta(hours=9), "Asia/Tokyo")

ID = "@id"  # pseudo-datatype: the value is an IRI


class Iri(str):
    """A string that is an IRI; compares equal to the same text as a plain string."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{str(self)}>"


class LexicalError(ValueError):
    """A lexical form that does not belong to its datatype."""


def is_non_finite(value: Any) -> bool:
    """NaN or an infinity (float or Decimal): never a valid value for a constraint, a request
    or the state, since NaN compares neither less, equal nor greater and would make ``eq`` /
    ``lteq`` / ``gteq`` true under a three-way comparison."""
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, Decimal) and not value.is_finite()


def check_finite(value: Any) -> Any:
    if is_non_finite(value):
        raise LexicalError(f"{value!r} is not a valid number: NaN and infinities are not "
                           "allowed")
    return value


_DURATION = re.compile(
    r"^(-)?P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True, slots=True)
class Duration:
    """xsd:duration as (months, seconds); both carry the sign."""

    months: int
    seconds: Decimal

    @classmethod
    def parse(cls, text: str) -> Duration:
        m = _DURATION.match(text.strip())
        if not m:
            raise LexicalError(f"{text!r} is not an xsd:duration (e.g. P1D, PT2H, P1Y2M)")
        neg, y, mo, w, d, h, mi, s = m.groups()
        months = int(y or 0) * 12 + int(mo or 0)
        seconds = (Decimal(int(w or 0) * 7 + int(d or 0)) * 86400 + Decimal(int(h or 0)) * 3600
                   + Decimal(int(mi or 0)) * 60 + Decimal(s or 0))
        if neg:
            months, seconds = -months, -seconds
        return cls(months, seconds)

    def add_to(self, moment: datetime) -> datetime:
        """moment + self with calendar months (day clamped to the month's end)."""
        total = moment.year * 12 + (moment.month - 1) + self.months
        year, month = divmod(total, 12)
        month += 1
        try:
            day = min(moment.day, _days_in_month(year, month))
            shifted = moment.replace(year=year, month=month, day=day)
            return shifted + timedelta(seconds=float(self.seconds))
        except (OverflowError, ValueError):
            raise DatatypeError(f"{moment.isoformat()} + {self} is outside the supported "
                                "dateTime range") from None

    def __str__(self) -> str:
        neg = self.months < 0 or self.seconds < 0
        months, seconds = abs(self.months), abs(self.seconds)
        out = "-P" if neg else "P"
        y, mo = divmod(months, 12)
        out += f"{y}Y" if y else ""
        out += f"{mo}M" if mo else ""
        days, rest = divmod(seconds, 86400)
        out += f"{int(days)}D" if days else ""
        if rest:
            h, rest = divmod(rest, 3600)
            mi, s = divmod(rest, 60)
            out += "T" + (f"{int(h)}H" if h else "") + (f"{int(mi)}M" if mi else "")
            out += f"{s.normalize():f}S" if s else ""
        return out if out not in ("P", "-P") else "PT0S"


# XML Schema 1.0 §3.2.6.2: durations are partially ordered; compare by adding both to these
# four instants and accept the order only when all four agree.
_REFERENCE_INSTANTS = tuple(datetime(y, m, 1, tzinfo=UTC) for y, m in
                            ((1696, 9), (1697, 2), (1903, 3), (1903, 7)))


def compare_durations(a: Duration, b: Duration) -> int | None:
    """-1/0/1, or None when the order is indeterminate (e.g. P1M vs P30D)."""
    if a.months == b.months:
        return (a.seconds > b.seconds) - (a.seconds < b.seconds)
    signs = set()
    for ref in _REFERENCE_INSTANTS:
        x, y = a.add_to(ref), b.add_to(ref)
        signs.add((x > y) - (x < y))
    return signs.pop() if len(signs) == 1 else None


@dataclass(frozen=True, slots=True)
class ElapsedTime:
    """Time elapsed from ``start`` to ``now``; compared with a Duration d as now vs start+d."""

    start: datetime
    now: datetime

    def compare(self, d: Duration) -> int:
        end = d.add_to(self.start)
        return (self.now > end) - (self.now < end)

    def __str__(self) -> str:
        return f"{_format_seconds(self.now - self.start)} since {self.start.isoformat()}"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value stated with an ``odrl:unit`` (the unit's IRI), e.g. 50 Euro. Constraints with
    a unit compare only quantities in that same unit; nothing is converted between units."""

    value: Any
    unit: str

    def __str__(self) -> str:
        return f"{to_json(self.value)} {self.unit}"


def _format_seconds(delta: timedelta) -> str:
    return str(Duration(0, Decimal(str(delta.total_seconds()))))


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


def parse_datetime(text: str) -> datetime:
    if not isinstance(text, str):
        raise LexicalError(f"{text!r} is not an xsd:dateTime")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise LexicalError(f"{text!r} is not an xsd:dateTime") from None
    if "T" not in text:
        raise LexicalError(f"{text!r} is not an xsd:dateTime (no time part)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise LexicalError(f"{text!r} is out of the supported xsd:dateTime range") from None


_DATE = re.compile(r"^(-?\d{4,}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$")


def parse_date(text: str) -> date:
    m = _DATE.match(text.strip())
    try:
        if not m:
            raise ValueError
        day = date.fromisoformat(m.group(1))
    except ValueError:
        raise LexicalError(f"{text!r} is not an xsd:date (YYYY-MM-DD)") from None
    try:
        day_bounds(day)  # the day must be representable as an interval of instants
    except (OverflowError, ValueError):
        raise LexicalError(f"{text!r} is out of the supported xsd:date range") from None
    return day


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A timezone-less xsd:date as the half-open interval of that day in Japan time."""
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _integer(text: str, minimum: int | None = None) -> int:
    try:
        value = int(text.strip()) if isinstance(text, str) else _native_int(text)
    except (ValueError, TypeError, OverflowError):
        raise LexicalError(f"{text!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise LexicalError(f"{value} is below the datatype minimum {minimum}")
    return value


def _native_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError
    return int(value)


def _decimal(text: Any) -> Decimal:
    if isinstance(text, bool):
        raise LexicalError(f"{text!r} is not a decimal")
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise LexicalError(f"{text!r} is not a decimal") from None
    if not value.is_finite():
        raise LexicalError(f"{text!r} is not a valid decimal: NaN and infinities are not "
                           "allowed")
    return value


def _double(text: Any) -> float:
    if isinstance(text, bool):
        raise LexicalError(f"{text!r} is not a double")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise LexicalError(f"{text!r} is not a double") from None
    if not math.isfinite(value):
        raise LexicalError(f"{text!r} is not a valid double: NaN and infinities (INF, -INF) "
                           "are not allowed")
    return value


def _boolean(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise LexicalError(f"{text!r} is not an xsd:boolean")


def _string(text: Any) -> str:
    if not isinstance(text, str):
        raise LexicalError(f"{text!r} is not a string")
    return text


def _iri(text: Any) -> Iri:
    if not isinstance(text, str) or not text or any(c.isspace() for c in text):
        raise LexicalError(f"{text!r} is not an IRI")
    return Iri(text)


def _as_text(fn: Any) -> Any:
    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            raise LexicalError(f"{value!r} must be written as a string")
        return fn(value)
    return convert


_CONVERTERS: dict[str, Any] = {
    XSD + "string": _string,
    XSD + "normalizedString": _string,
    XSD + "token": _string,
    XSD + "language": _string,
    RDF + "langString": _string,
    XSD + "anyURI": _iri,
    ID: _iri,
    XSD + "integer": _integer,
    XSD + "int": _integer,
    XSD + "long": _integer,
    XSD + "short": _integer,
    XSD + "nonNegativeInteger": lambda v: _integer(v, 0),
    XSD + "positiveInteger": lambda v: _integer(v, 1),
    XSD + "decimal": _decimal,
    XSD + "double": _double,
    XSD + "float": _double,
    XSD + "boolean": _boolean,
    XSD + "date": _as_text(parse_date),
    XSD + "dateTime": _as_text(parse_datetime),
    XSD + "dateTimeStamp": _as_text(parse_datetime),
    XSD + "duration": _as_text(Duration.parse),
    XSD + "dayTimeDuration": _as_text(Duration.parse),
    XSD + "yearMonthDuration": _as_text(Duration.parse),
}

KNOWN_DATATYPES = frozenset(_CONVERTERS)


def is_known_datatype(datatype: str) -> bool:
    return datatype in _CONVERTERS


def convert(value: Any, datatype: str | None) -> Any:
    """Convert a JSON-LD literal value to its Python value. Raises LexicalError on mismatch,
    KeyError for an unknown datatype (callers turn both into named policy errors)."""
    if datatype is None:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            check_finite(value)
            return int(value) if value.is_integer() else value
        return _string(value)
    return _CONVERTERS[datatype](value)


def to_json(value: Any) -> Any:
    """A JSON-friendly rendering of a typed value for decisions and explanations."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Duration, ElapsedTime, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [to_json(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, Iri):
        return str(value)
    if isinstance(value, Quantity):
        return {"@value": to_json(value.value), "unit": value.unit}
    return value


def kind_of(value: Any) -> str:
    """The comparison family of a value: what it may be compared with."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "dateTime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, (Duration, ElapsedTime)):
        return "duration"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "set"
    if isinstance(value, Quantity):
        return "quantity"
    return type(value).__name__
