"""Column mapping for shelter status CSVs, whose columns differ by municipality.

A mapping file (TOML or JSON, same structure) says which column holds what:

    encoding = "auto"                   # or utf-8, cp932 (a .xlsx is read as it is)
    complete_snapshot = true            # the file lists every open shelter (see below)

    [columns]
    shelter_id  = "避難所番号"          # required
    name        = "避難所名"
    open        = "開設状況"            # "開設", "○", "1"... (see [open_values])
    type        = "種別"                # 指定避難所, 指定緊急避難場所, 福祉避難所 (several ok)
    capacity    = "収容可能人数"        # "450", "屋内1,700人／屋外2,250人(面積の1/2)"
    count       = "避難者数"            # people there now
    day_count   = "昼間避難者数"
    night_count = "夜間避難者数"
    timestamp   = "更新日時"            # or ["日付", "時刻"]: joined with a space
    needs       = ["不足物資"]          # free text, split on 、 ; / and newlines
    need_flags  = ["飲料水", "毛布"]    # flag columns: the header names the need

    [open_values]                       # added to the built-in spellings
    open   = ["受入中"]
    closed = ["受入停止"]

    [defaults]                          # for columns the file does not have, or empty cells
    open      = true
    type      = "指定避難所"
    timestamp = "令和6年4月30日午前6時"

In TOML, ``encoding`` and ``complete_snapshot`` go above the first ``[table]``: below it
they would belong to that table (and be refused as unknown keys there).

A file is usually a list of the shelters open now. ``complete_snapshot = true`` (or
``--complete-snapshot`` on the command line) says it is complete: a shelter the timeline
holds as open (or unknown) and the file does not name at all is recorded as closed at the
file's latest time. Without it, a shelter left out keeps its last status.

Unknown keys are errors (a typo must not silently drop a column). A mapping holding what
looks like a My Number (個人番号) anywhere is refused whole (``personal_number.refused``):
the mapping file is kept beside each import, and nothing kept may hold one.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from domains.bosai.errors import BosaiCode
from domains.bosai.importers.source import ENCODINGS
from domains.japanese import JapaneseDateError, normalize_width, parse_datetime
from domains.japanese.errors import JapaneseCode
from domains.japanese.mynumber import contains_my_number
from trust.errors import TsunaguError

SINGLE = ("shelter_id", "name", "open", "type", "capacity", "count", "day_count",
          "night_count")
MULTI = ("timestamp", "needs", "need_flags")
OPEN = {"開設", "開設中", "開設済", "開設済み", "開", "○", "◯", "〇", "1", "1.0", "true", "yes",
        "y", "はい", "有", "open", "opened"}
CLOSED = {"閉鎖", "閉鎖済", "閉鎖済み", "未開設", "閉", "×", "✕", "0", "0.0", "false", "no", "n",
          "いいえ", "無", "closed", "close"}
MAX_MAPPING_BYTES = 64 * 1024


class MappingError(TsunaguError):
    code = BosaiCode.MAPPING_INVALID


@dataclass(frozen=True)
class StatusMapping:
    shelter_id: str
    name: str | None = None
    open: str | None = None
    type: str | None = None
    capacity: str | None = None
    count: str | None = None
    day_count: str | None = None
    night_count: str | None = None
    timestamp: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    need_flags: tuple[str, ...] = ()
    open_values: frozenset[str] = frozenset(OPEN)
    closed_values: frozenset[str] = frozenset(CLOSED)
    default_open: bool | None = None
    default_type: str | None = None
    default_timestamp: datetime | None = None
    encoding: str = "auto"
    complete_snapshot: bool = False

    def columns(self) -> list[str]:
        """Every column the file must have."""
        single = [getattr(self, k) for k in SINGLE if getattr(self, k)]
        return list(dict.fromkeys([*single, *self.timestamp, *self.needs, *self.need_flags]))


def open_key(value: str) -> str:
    return normalize_width(value).strip().casefold()


def _names(key: str, value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
            isinstance(v, str) and v.strip() for v in items):
        raise MappingError(f"columns.{key} must be a column name or a list of column names")
    return tuple(v.strip() for v in items)


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise MappingError(f"[{key}] must be a table")
    return value


TOP_LEVEL = ("columns", "open_values", "defaults", "encoding", "complete_snapshot")


def _unknown(table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    if extra := sorted(set(table) - set(allowed)):
        # In TOML a key written below [columns] belongs to [columns]: say where it goes.
        hint = ("; encoding and complete_snapshot go above the first [table] of a TOML file"
                if where != "the mapping" and set(extra) & set(TOP_LEVEL) else "")
        raise MappingError(f"unknown key{'s' * (len(extra) > 1)} in {where}: "
                           f"{', '.join(map(str, extra))} (allowed: {', '.join(allowed)})"
                           + hint)


def parse_mapping(data: Any) -> StatusMapping:
    """A mapping from its parsed TOML/JSON; MappingError names the first problem."""
    if not isinstance(data, dict):
        raise MappingError("a mapping is a table (TOML) or an object (JSON)")
    _unknown(data, TOP_LEVEL, "the mapping")
    columns, values, defaults = (_table(data, k) for k in ("columns", "open_values", "defaults"))
    _unknown(columns, SINGLE + MULTI, "[columns]")
    _unknown(values, ("open", "closed"), "[open_values]")
    _unknown(defaults, ("open", "type", "timestamp"), "[defaults]")
    fields: dict[str, Any] = {}
    for key in SINGLE:
        if key in columns:
            names = _names(key, columns[key])
            if len(names) != 1:
                raise MappingError(f"columns.{key} must be one column name")
            fields[key] = names[0]
    for key in MULTI:
        if key in columns:
            fields[key] = _names(key, columns[key])
    if "shelter_id" not in fields:
        raise MappingError("columns.shelter_id is required: which column identifies the shelter")
    extra = {k: frozenset(open_key(v) for v in _names(f"open_values.{k}", values.get(k, [])))
             if values.get(k) else frozenset() for k in ("open", "closed")}
    if clash := extra["open"] & extra["closed"]:
        raise MappingError(f"open_values lists {', '.join(sorted(clash))} as both open and closed")
    fields["open_values"] = frozenset(OPEN - extra["closed"]) | extra["open"]
    fields["closed_values"] = frozenset(CLOSED - extra["open"]) | extra["closed"]
    if "open" in defaults:
        if not isinstance(defaults["open"], bool):
            raise MappingError("defaults.open must be true or false")
        fields["default_open"] = defaults["open"]
    if "type" in defaults:
        if not isinstance(defaults["type"], str) or not defaults["type"].strip():
            raise MappingError("defaults.type must be a shelter type such as 指定避難所")
        fields["default_type"] = defaults["type"]
    if "timestamp" in defaults:
        if not isinstance(defaults["timestamp"], str | datetime):
            raise MappingError("defaults.timestamp must be a date and time")
        try:
            stamp = defaults["timestamp"]
            fields["default_timestamp"] = (stamp if isinstance(stamp, datetime) and stamp.tzinfo
                                           else parse_datetime(str(stamp)))
        except JapaneseDateError as exc:
            raise MappingError(f"defaults.timestamp: {exc.message}") from None
    if "timestamp" not in fields and "default_timestamp" not in fields:
        raise MappingError("columns.timestamp or defaults.timestamp is required: "
                           "a status without a time cannot enter a timeline")
    if "open" not in fields and "default_open" not in fields:
        raise MappingError("columns.open or defaults.open is required")
    encoding = data.get("encoding", "auto")
    if not isinstance(encoding, str) or encoding.lower() not in ENCODINGS + (
            "utf8", "shift_jis", "sjis", "cp932"):
        raise MappingError(f"encoding must be one of {', '.join(ENCODINGS)}")
    fields["encoding"] = encoding
    complete = data.get("complete_snapshot", False)
    if not isinstance(complete, bool):
        raise MappingError("complete_snapshot must be true or false")
    fields["complete_snapshot"] = complete
    return StatusMapping(**fields)


def load_mapping(path: Path) -> tuple[StatusMapping, bytes]:
    """Read a mapping file (.toml, or .json); returns the mapping and the file's bytes."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MappingError(f"cannot read mapping {path}: {exc.strerror}") from None
    if len(data) > MAX_MAPPING_BYTES:
        raise MappingError(f"mapping {path} is larger than {MAX_MAPPING_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
        parsed = (json.loads(text) if Path(path).suffix.lower() == ".json"
                  else tomllib.loads(text))
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"mapping {path} is not valid "
                           f"{'JSON' if Path(path).suffix.lower() == '.json' else 'TOML'} "
                           f"UTF-8: {exc}") from None
    if contains_my_number(text):
        raise MappingError(f"mapping {Path(path).name} holds what looks like a My Number "
                           "(個人番号); a mapping never needs one",
                           code=JapaneseCode.PERSONAL_NUMBER_REFUSED)
    return parse_mapping(parsed), data
