"""The schedule table: read (TOML), merged with a municipality's overrides, checked, and
compiled once into the structures the engine walks for every child.

A table error names the file, the entry and the field (``ScheduleInvalid``), so that whoever
edited a municipality's table can fix it without reading code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from domains.pmh.errors import PmhCode
from domains.pmh.schedule import ages, legal_age
from domains.pmh.schedule.ages import AgeExpr
from trust.errors import ValidationError

ROUTINE = Path(__file__).with_name("routine.toml")
SEXES = ("female", "male")


class ScheduleInvalid(ValidationError):
    """A schedule table or override cannot be used; the message names the entry and field."""

    code = PmhCode.SCHEDULE_INVALID


@dataclass(frozen=True, slots=True)
class Interval:
    """Spacing after an earlier dose. Days are clear days (27 -> the next dose on day 28),
    months the same day N months later."""

    after: int | None  # a dose number, None for the previous recorded dose
    min_days: int | None = None
    min_months: int | None = None
    standard_min_days: int | None = None
    standard_min_months: int | None = None
    standard_max_days: int | None = None
    standard_max_months: int | None = None

    @staticmethod
    def _plus(day: date, days: int | None, months: int | None) -> date | None:
        if days is not None:
            return day + timedelta(days=days + 1)
        if months is not None:
            return legal_age.same_day_months_later(day, months)
        return None

    def earliest(self, given: date) -> date | None:
        return self._plus(given, self.min_days, self.min_months)

    def standard_start(self, given: date) -> date | None:
        return self._plus(given, self.standard_min_days, self.standard_min_months)

    def standard_end(self, given: date) -> date | None:
        """The last day of the standard period, counted as the minimum is: "20日から56日まで"
        runs from day 21 to day 57 (20 to 56 clear days), "6月から18月まで" from the same day
        6 months later to the same day 18 months later."""
        return self._plus(given, self.standard_max_days, self.standard_max_months)

    def describe(self) -> tuple[str, str]:
        ref_ja = "前回" if self.after is None else f"{self.after}回目"
        ref_en = "the previous dose" if self.after is None else f"dose {self.after}"
        if self.min_days is not None:
            return f"{ref_ja}から{self.min_days}日以上の間隔", \
                f"at least {self.min_days} clear days after {ref_en}"
        return f"{ref_ja}から{self.min_months}月以上の間隔", \
            f"at least {self.min_months} months after {ref_en}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One dose of a series, as in effect from ``effective_from``."""

    id: str
    vaccine: str
    series: str
    dose: int
    window_from: AgeExpr
    window_to: AgeExpr
    standard_from: AgeExpr | None
    standard_to: AgeExpr | None
    intervals: tuple[Interval, ...]
    skippable: bool
    effective_from: date
    source: str


@dataclass(frozen=True)
class Series:
    id: str
    vaccine: str
    name_ja: str
    name_en: str
    products: frozenset[str] | None
    codes: frozenset[str] | None
    start_from: AgeExpr | None
    start_to: AgeExpr | None
    started_before: date | None
    # (dose n, interval): the series is complete after dose n when that dose came at least
    # this interval after the one it names (HPV 9価 begun under 15: 2 doses 5 months apart)
    complete_early: tuple[int, Interval] | None
    # dose number -> its rule's versions, newest effective_from first
    versions: dict[int, tuple[Rule, ...]] = field(default_factory=dict)
    doses: int = 0  # how many (set once the rules are compiled: read for every child)

    def rule_at(self, dose: int, day: date) -> Rule | None:
        """The version of dose ``dose``'s rule in effect on ``day`` (None before the first)."""
        for rule in self.versions.get(dose, ()):
            if rule.effective_from <= day:
                return rule
        return None

    def first_rule(self, dose: int) -> Rule:
        """The oldest version: for messages about a day before any version."""
        return self.versions[dose][-1]


@dataclass(frozen=True)
class Vaccine:
    """A course the child follows (one status per child): rotavirus, MR 1期, ..."""

    id: str
    name_ja: str
    name_en: str
    codes: frozenset[str]
    born_from: date | None
    sex: str | None
    with_series: str | None
    series: tuple[Series, ...]
    # Precomputed for the engine's per-child loop: the series when there is no choice, and
    # whether the course covers only some children (sex, cohort, companion series).
    only: Series | None = None
    restricted: bool = False

    def __post_init__(self) -> None:
        (first, *others) = self.series
        unconditional = not others and first.products is None and first.codes is None and \
            first.start_from is None and first.start_to is None and first.started_before is None
        object.__setattr__(self, "only", first if unconditional else None)
        object.__setattr__(self, "restricted", self.sex is not None or
                           self.born_from is not None or self.with_series is not None)


@dataclass(frozen=True)
class Schedule:
    """A compiled table: what ``evaluate``, ``check_dose`` and ``due_on`` take as settings."""

    title_ja: str
    title_en: str
    vaccines: tuple[Vaccine, ...]
    by_code: dict[str, Vaccine]
    rules: dict[str, tuple[Rule, ...]]  # rule id -> versions
    # The engine keeps each birth date's window dates here (a city has ~17 children per
    # birth date); cleared when full, 0 turns it off. Derived data only: never compared.
    birth_cache_size: int = 16_384
    birth_cache: dict = field(default_factory=dict, compare=False, repr=False)


# ---------------------------------------------------------------- reading and merging

_KINDS = ("vaccine", "series", "rule")
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "vaccine": {"id": (str,), "name_ja": (str,), "name_en": (str,), "codes": (list,),
                "born_from": (date,), "sex": (str,), "with_series": (str,)},
    "series": {"id": (str,), "vaccine": (str,), "name_ja": (str,), "name_en": (str,),
               "products": (list,), "codes": (list,), "start_from": (str,),
               "start_to": (str,), "started_before": (date,), "complete_early": (dict,)},
    "rule": {"id": (str,), "series": (str,), "dose": (int,), "from": (str,), "to": (str,),
             "standard_from": (str,), "standard_to": (str,), "interval": (list,),
             "skippable": (bool,), "effective_from": (date,), "source": (str,)},
}
_REQUIRED = {"vaccine": ("id", "name_ja", "name_en", "codes"),
             "series": ("id", "vaccine", "name_ja", "name_en"),
             "rule": ("id", "series", "dose", "from", "to", "effective_from", "source")}
_INTERVAL_FIELDS = ("after", "min_days", "min_months", "standard_min_days",
                    "standard_min_months", "standard_max_days", "standard_max_months")


def _fail(where: str, kind: str, entry_id: object, field_name: str, problem: str) -> None:
    raise ScheduleInvalid(f"{where}: {kind} {entry_id!r}, field {field_name!r}: {problem}",
                          file=where, entry=str(entry_id), field=field_name)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScheduleInvalid(f"{path}: cannot read the schedule table: {exc}",
                              file=str(path)) from exc


def _entries(data: dict[str, Any], where: str) -> dict[str, list[dict[str, Any]]]:
    unknown = set(data) - {*_KINDS, "schema", "title_ja", "title_en"}
    if unknown:
        _fail(where, "table", "(top level)", sorted(unknown)[0],
              "unknown key (expected [[vaccine]], [[series]], [[rule]])")
    out = {}
    for kind in _KINDS:
        entries = data.get(kind, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            _fail(where, "table", "(top level)", kind, f"must be a list of [[{kind}]] tables")
        out[kind] = [dict(e, _where=where) for e in entries]
    return out


def _merge(base: dict[str, list[dict]], override: dict[str, list[dict]]) -> None:
    """Override entries replace the given fields of the entries with their id; a rule with a
    new ``effective_from`` adds a version (its other fields taken from the newest one)."""
    for kind in _KINDS:
        for change in override[kind]:
            entry_id = change.get("id")
            if not isinstance(entry_id, str):
                _fail(change["_where"], kind, entry_id, "id", "missing or not a string")
            same = [e for e in base[kind] if e.get("id") == entry_id]
            if kind == "rule" and same and "effective_from" in change and not any(
                    e.get("effective_from") == change["effective_from"] for e in same):
                newest = max(same, key=lambda e: e.get("effective_from", date.min))
                base[kind].append({**newest, **change})
            elif kind == "rule" and "effective_from" in change:
                targets = [e for e in same if e.get("effective_from") == change["effective_from"]]
                _apply(base[kind], targets, change)
            else:
                _apply(base[kind], same, change)


def _apply(entries: list[dict], targets: list[dict], change: dict) -> None:
    if not targets:
        entries.append(dict(change))
    for target in targets:
        target.update(change)


# ---------------------------------------------------------------- checking and compiling

def _check_fields(entry: dict[str, Any], kind: str) -> None:
    where, entry_id = entry["_where"], entry.get("id", "(no id)")
    for name in _REQUIRED[kind]:
        if name not in entry:
            _fail(where, kind, entry_id, name, "is required")
    for name, value in entry.items():
        if name == "_where":
            continue
        types = _FIELDS[kind].get(name)
        if types is None:
            _fail(where, kind, entry_id, name, f"unknown field (known: {', '.join(_FIELDS[kind])})")
        if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)) or \
                (types == (date,) and type(value) is not date):
            _fail(where, kind, entry_id, name, f"must be a {types[0].__name__}, not {value!r}")
        if isinstance(value, list) and name != "interval" and \
                not (value and all(isinstance(v, str) and v for v in value)):
            _fail(where, kind, entry_id, name, "must be a non-empty list of strings")


def _age(entry: dict[str, Any], kind: str, name: str) -> AgeExpr | None:
    if name not in entry:
        return None
    try:
        return ages.parse(entry[name])
    except ValueError as exc:
        _fail(entry["_where"], kind, entry.get("id"), name, str(exc))
        raise  # unreachable: _fail raises


def _interval(entry: dict[str, Any], raw: object, dose: int) -> Interval:
    where, rule_id = entry["_where"], entry["id"]
    kind = entry.get("_kind", "rule")
    if not isinstance(raw, dict):
        _fail(where, kind, rule_id, "interval", f"each interval is a table, not {raw!r}")
    assert isinstance(raw, dict)
    for name, value in raw.items():
        if name not in _INTERVAL_FIELDS:
            _fail(where, kind, rule_id, f"interval.{name}",
                  f"unknown (known: {', '.join(_INTERVAL_FIELDS)})")
        if name != "after" and (isinstance(value, bool) or not isinstance(value, int)
                                or not 0 <= value <= 3650):
            _fail(where, kind, rule_id, f"interval.{name}", f"must be days or months >= 0, "
                  f"not {value!r}")
    after = raw.get("after")
    if after == "previous":
        after = None
    elif isinstance(after, bool) or not isinstance(after, int) or not 1 <= after < dose:
        _fail(where, kind, rule_id, "interval.after",
              f"must be \"previous\" or an earlier dose number (1..{dose - 1}), not {after!r}")
    if "min_days" in raw and "min_months" in raw:
        _fail(where, kind, rule_id, "interval", "min_days or min_months, not both")
    values = {k: v for k, v in raw.items() if k != "after"}
    if not values:
        _fail(where, kind, rule_id, "interval", "gives no interval")
    return Interval(after=after, **values)


# Birth dates on which every rule's window is checked to be non-empty: month ends, 2/29,
# April 1 and 2 (the school-year edge), a plain day.
_PROBE_BIRTHS = (date(2024, 2, 29), date(2023, 1, 31), date(2023, 4, 1), date(2023, 4, 2),
                 date(2022, 8, 31), date(2021, 12, 31), date(2020, 6, 15))


def _rule(entry: dict[str, Any], series: Series) -> Rule:
    where, rule_id = entry["_where"], entry["id"]
    if entry["dose"] < 1:
        _fail(where, "rule", rule_id, "dose", "must be 1 or more")
    window_from, window_to = _age(entry, "rule", "from"), _age(entry, "rule", "to")
    assert window_from is not None and window_to is not None
    for birth in _PROBE_BIRTHS:
        if window_from.at(birth) > window_to.at(birth):
            _fail(where, "rule", rule_id, "to", f"the window closes before it opens "
                  f"(born {birth}: {window_from.at(birth)} > {window_to.at(birth)})")
    intervals = tuple(_interval(entry, raw, entry["dose"]) for raw in entry.get("interval", ()))
    if entry["dose"] > 1 and not any(i.min_days is not None or i.min_months is not None
                                     for i in intervals):
        _fail(where, "rule", rule_id, "interval", "a dose after the first needs a minimum "
              "interval after an earlier dose")
    return Rule(id=rule_id, vaccine=series.vaccine, series=series.id, dose=entry["dose"],
                window_from=window_from, window_to=window_to,
                standard_from=_age(entry, "rule", "standard_from"),
                standard_to=_age(entry, "rule", "standard_to"), intervals=intervals,
                skippable=entry.get("skippable", False), effective_from=entry["effective_from"],
                source=entry["source"])


def _unique(entries: list[dict], kind: str, key: tuple[str, ...]) -> None:
    seen: set[tuple] = set()
    for entry in entries:
        k = tuple(entry.get(name) for name in key)
        if k in seen:
            _fail(entry["_where"], kind, entry.get("id"), key[-1], f"{k} is given twice")
        seen.add(k)


def compile_tables(tables: Iterable[tuple[dict[str, Any], str]]) -> Schedule:
    """Compile the first table with each following one merged on top (``(data, where)``)."""
    tables = list(tables)
    base = _entries(*tables[0])
    for data, where in tables[1:]:
        _merge(base, _entries(data, where))
    for kind in _KINDS:
        for entry in base[kind]:
            _check_fields(entry, kind)
    _unique(base["vaccine"], "vaccine", ("id",))
    _unique(base["series"], "series", ("id",))
    _unique(base["rule"], "rule", ("id", "effective_from"))

    series_entries: dict[str, list[dict]] = {}
    for entry in base["series"]:
        series_entries.setdefault(entry["vaccine"], []).append(entry)
    rule_entries: dict[str, list[dict]] = {}
    for entry in base["rule"]:
        rule_entries.setdefault(entry["series"], []).append(entry)

    vaccines, by_code, rules = [], {}, {}
    series_ids = {e["id"] for e in base["series"]}
    for ventry in base["vaccine"]:
        where, vid = ventry["_where"], ventry["id"]
        if ventry.get("sex") not in (None, *SEXES):
            _fail(where, "vaccine", vid, "sex", f"must be one of {SEXES}")
        if ventry.get("with_series") not in (None, *series_ids):
            _fail(where, "vaccine", vid, "with_series", "names no series")
        codes = frozenset(ventry["codes"])
        series_list = []
        for sentry in series_entries.pop(vid, []):
            series = _series(sentry, codes, rule_entries.pop(sentry["id"], []))
            series_list.append(series)
            for versions in series.versions.values():
                rules[versions[0].id] = versions
        if not series_list:
            _fail(where, "vaccine", vid, "id", "no [[series]] names this vaccine")
        vaccine = Vaccine(id=vid, name_ja=ventry["name_ja"], name_en=ventry["name_en"],
                          codes=codes, born_from=ventry.get("born_from"), sex=ventry.get("sex"),
                          with_series=ventry.get("with_series"), series=tuple(series_list))
        for code in codes:
            if code in by_code:
                _fail(where, "vaccine", vid, "codes", f"{code!r} is counted by "
                      f"{by_code[code].id!r} too")
            by_code[code] = vaccine
        vaccines.append(vaccine)
    for orphans in series_entries.values():
        _fail(orphans[0]["_where"], "series", orphans[0]["id"], "vaccine", "names no vaccine")
    for orphans in rule_entries.values():
        _fail(orphans[0]["_where"], "rule", orphans[0]["id"], "series", "names no series")
    first = tables[0][0]
    return Schedule(title_ja=first.get("title_ja", ""), title_en=first.get("title_en", ""),
                    vaccines=tuple(vaccines), by_code=by_code, rules=rules)


def _complete_early(entry: dict[str, Any]) -> tuple[int, Interval] | None:
    raw = entry.get("complete_early")
    if raw is None:
        return None
    raw = dict(raw)
    dose = raw.pop("dose", None)
    if isinstance(dose, bool) or not isinstance(dose, int) or dose < 2:
        _fail(entry["_where"], "series", entry["id"], "complete_early.dose",
              f"must be a dose number from 2, not {dose!r}")
    interval = _interval({**entry, "_kind": "series"}, raw, dose)
    if interval.after is None:
        _fail(entry["_where"], "series", entry["id"], "complete_early.after",
              "must name an earlier dose number")
    if interval.min_days is None and interval.min_months is None:
        _fail(entry["_where"], "series", entry["id"], "complete_early",
              "needs min_days or min_months")
    return dose, interval


def _series(entry: dict[str, Any], codes: frozenset[str], rule_entries: list[dict]) -> Series:
    where, sid = entry["_where"], entry["id"]
    own = frozenset(entry["codes"]) if "codes" in entry else None
    if own is not None and not own <= codes:
        _fail(where, "series", sid, "codes", f"{sorted(own - codes)} not among the vaccine's "
              f"codes {sorted(codes)}")
    series = Series(id=sid, vaccine=entry["vaccine"], name_ja=entry["name_ja"],
                    name_en=entry["name_en"],
                    products=frozenset(entry["products"]) if "products" in entry else None,
                    codes=own, start_from=_age(entry, "series", "start_from"),
                    start_to=_age(entry, "series", "start_to"),
                    started_before=entry.get("started_before"),
                    complete_early=_complete_early(entry))
    by_dose: dict[int, list[Rule]] = {}
    for rentry in rule_entries:
        rule = _rule(rentry, series)
        by_dose.setdefault(rule.dose, []).append(rule)
    for expected, dose in enumerate(sorted(by_dose), 1):
        if dose != expected:  # blame the rule out of sequence (in the file that gave it)
            entry = next(e for e in rule_entries if e["dose"] == dose)
            _fail(entry["_where"], "rule", entry["id"], "dose", f"series {sid!r} has doses "
                  f"{sorted(by_dose)}: they must run 1, 2, ... without a gap")
    for dose, versions in by_dose.items():
        if len({r.id for r in versions}) > 1:
            _fail(where, "rule", versions[0].id, "dose", f"dose {dose} of {sid!r} has rules "
                  f"with different ids ({sorted({r.id for r in versions})})")
        series.versions[dose] = tuple(sorted(versions, key=lambda r: r.effective_from,
                                             reverse=True))
    object.__setattr__(series, "doses", len(series.versions))
    return series


def load_schedule(*overrides: Path, table: Path = ROUTINE,
                  birth_cache_size: int = 16_384) -> Schedule:
    """The routine table with a municipality's override files merged on top, in order."""
    schedule = compile_tables((_read(path), str(path)) for path in (table, *overrides))
    return replace(schedule, birth_cache_size=birth_cache_size)
