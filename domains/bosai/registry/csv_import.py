"""Evacuee lists as CSV: columns mapped to registry fields, a report for every line.

The header row names the columns; ``COLUMNS`` maps the usual Japanese and English headers
to form fields (``contact.telephone`` for nested ones), and a caller's ``columns`` mapping
(header -> field) adds to or overrides it. A single "氏名" / "フリガナ" column is split at its
first space into family and given name. Columns mapped to nothing are ignored, but still
checked for My Numbers, as is the header: a column named like a My Number refuses the
whole file before anything is registered.

Every data line ends up in the report with its line number (the header is line 1; a quoted
field spanning lines is reported at the line it starts): registered (new, merged, review),
or refused with the error code and the field (never the value). Valid lines are registered
even when others are refused. The file itself is not kept: it may hold what the registry
must not (a My Number in a column nobody mapped).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domains.bosai.errors import BosaiCode
from domains.bosai.registry.errors import MyNumberRefused, RegistryInputError
from domains.bosai.registry.forms import FIELDS
from domains.bosai.registry.normalize import display_text
from domains.bosai.registry.registry import Origin, RegistrationStats, Registry
from domains.japanese.mynumber import contains_my_number, is_my_number_field

MAX_BYTES = 64 * 1024 * 1024
NESTED = frozenset({"contact.telephone", "contact.email", "household.householdId",
                    "household.relationship", "stayLocation.stayType",
                    "stayLocation.shelterId", "careNeeds.careCategory",
                    "careNeeds.medicalNeed", "careNeeds.careNotes"})
SPLIT = {"name": ("familyName", "givenName"), "nameKana": ("familyNameKana", "givenNameKana")}
TARGETS = (FIELDS - {"contact", "household", "stayLocation", "careNeeds"}) | NESTED | set(SPLIT)

COLUMNS: dict[str, str] = {
    "氏": "familyName", "姓": "familyName", "名": "givenName",
    "氏カナ": "familyNameKana", "氏(カナ)": "familyNameKana", "セイ": "familyNameKana",
    "名カナ": "givenNameKana", "名(カナ)": "givenNameKana", "メイ": "givenNameKana",
    "氏名": "name", "フリガナ": "nameKana", "ふりがな": "nameKana", "氏名カナ": "nameKana",
    "生年月日": "birthDate", "性別": "sex", "住所": "address",
    "電話番号": "contact.telephone", "電話": "contact.telephone",
    "メールアドレス": "contact.email", "メール": "contact.email",
    "世帯番号": "household.householdId", "世帯ID": "household.householdId",
    "続柄": "household.relationship",
    "滞在場所": "stayLocation.stayType", "避難先": "stayLocation.stayType",
    "避難所ID": "stayLocation.shelterId", "避難所コード": "stayLocation.shelterId",
    "要配慮": "careNeeds.careCategory", "要配慮区分": "careNeeds.careCategory",
    "医療": "careNeeds.medicalNeed", "医療的ニーズ": "careNeeds.medicalNeed",
    "特記事項": "careNeeds.careNotes",
    "安否情報の開示": "consentToDisclose", "安否確認への回答": "consentToDisclose",
    "開示への同意": "consentToDisclose", "開示する項目": "disclosureScope",
    **{name: name for name in TARGETS},
}


@dataclass(frozen=True)
class CsvLine:
    line: int
    outcome: str  # new | merged | review | refused
    person_id: str | None = None
    code: str | None = None
    field: str | None = None
    column: str | None = None
    message: str | None = None


@dataclass
class CsvReport:
    lines: list[CsvLine] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    def summary(self) -> str:
        return (f"registered {len(self.lines) - self.count('refused')} (new {self.count('new')},"
                f" merged {self.count('merged')}, review {self.count('review')}), "
                f"refused {self.count('refused')}")

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(),
                "lines": [{k: v for k, v in line.__dict__.items() if v is not None}
                          for line in self.lines]}


class CsvFileError(RegistryInputError):
    """The file as a whole cannot be read (encoding, header, size)."""

    code = BosaiCode.CSV_INVALID


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Shift_JIS (cp932)."""
    if len(data) > MAX_BYTES:
        raise CsvFileError(f"the file is larger than {MAX_BYTES} bytes", field="file")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvFileError("the file is neither UTF-8 nor Shift_JIS", field="file")


def _header_key(name: str) -> str:
    return display_text(name).replace(" ", "")


def _mapping(header: list[str], columns: Mapping[str, str] | None) -> list[str | None]:
    table = {_header_key(k): v for k, v in {**COLUMNS, **(columns or {})}.items()}
    targets: list[str | None] = []
    for index, name in enumerate(header):
        where = f"column {index + 1}"
        if is_my_number_field(name) or contains_my_number(name):
            raise MyNumberRefused(f"{where} is a My Number (個人番号) column; the registry never "
                                  "takes a My Number: remove the column", field=where)
        target = table.get(_header_key(name))
        if target is not None and target not in TARGETS:
            raise CsvFileError(f"{where} is mapped to {target!r}, which is not a registry "
                               "field", field=where)
        targets.append(target)
    mapped = [t for t in targets if t is not None]
    duplicated = {t for t in mapped if mapped.count(t) > 1}
    if duplicated:
        raise CsvFileError(f"several columns are mapped to {', '.join(sorted(duplicated))}",
                           field="header")
    return targets


def _form(row: list[str], header: list[str], targets: list[str | None]) -> dict[str, Any]:
    form: dict[str, Any] = {}
    for index, (cell, target) in enumerate(zip(row, targets, strict=True)):
        if contains_my_number(cell):
            raise MyNumberRefused(f"column {index + 1} holds what looks like a My Number "
                                  "(個人番号)", field=target or f"column {index + 1}",
                                  column=header[index])
        if target is None or not cell.strip():
            continue
        if target in SPLIT:
            parts = display_text(cell).split(" ", 1)
            if len(parts) != 2:
                raise RegistryInputError(f"{target} must be written as 氏 and 名 separated "
                                         "by a space", field=target, column=header[index])
            form[SPLIT[target][0]], form[SPLIT[target][1]] = parts
        elif "." in target:
            outer, inner = target.split(".")
            form.setdefault(outer, {})[inner] = cell
        else:
            form[target] = cell
    return form


@dataclass
class CsvRows:
    """A CSV file read and checked line by line, before anything is registered."""

    header: list[str]
    targets: list[str | None]
    lines: list[int] = field(default_factory=list)  # line number of each form
    forms: list[dict[str, Any]] = field(default_factory=list)
    refused: dict[int, CsvLine] = field(default_factory=dict)

    def origins(self, source: str, by: str | None) -> Callable[[int], Origin]:
        return lambda i: Origin(f"{source}#line={self.lines[i]}", "csv", by)

    def report(self, stats: RegistrationStats) -> CsvReport:
        """Every line: registered (as ``stats`` says) or refused, in line order."""
        report = CsvReport()
        refused = dict(self.refused)
        column_of = {t: self.header[i] for i, t in enumerate(self.targets) if t is not None}
        for refusal in stats.refused:
            line = self.lines[refusal.index]
            refused[line] = CsvLine(line, "refused", code=refusal.code, field=refusal.field,
                                    column=_column(refusal.field, column_of),
                                    message=refusal.message)
        for index, result in enumerate(stats.results):
            if result is not None:
                report.lines.append(CsvLine(self.lines[index], result.outcome,
                                            result.person_id))
        report.lines.extend(refused.values())
        report.lines.sort(key=lambda line: line.line)
        return report


def read_csv(data: bytes | str | Path, *, columns: Mapping[str, str] | None = None
             ) -> CsvRows:
    """Decode, map the header, and turn each line into a form or a refusal."""
    if isinstance(data, Path):
        data = data.read_bytes()
    text = decode(data) if isinstance(data, bytes) else data
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFileError("the file is empty", field="header") from None
    except csv.Error:
        raise CsvFileError("the header line is not valid CSV", field="header") from None
    targets = _mapping(header, columns)
    if not any(targets):
        raise CsvFileError("no column is a registry field", field="header")
    rows = CsvRows(header, targets)
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            rows.refused[start] = CsvLine(start, "refused", code=BosaiCode.CSV_INVALID,
                                          field="line", message="the line is not valid CSV")
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue  # a blank line holds nothing to lose
        if len(row) != len(header):
            rows.refused[line] = CsvLine(line, "refused", code=BosaiCode.CSV_COLUMNS,
                                         field="line", message=f"the line has {len(row)} "
                                         f"cells, the header {len(header)}")
            continue
        try:
            rows.forms.append(_form(row, header, targets))
            rows.lines.append(line)
        except RegistryInputError as exc:
            rows.refused[line] = CsvLine(line, "refused", code=exc.code, field=exc.field,
                                         column=exc.details.get("column"), message=exc.message)
    return rows


def import_csv(registry: Registry, data: bytes | str | Path, *, source: str,
               columns: Mapping[str, str] | None = None, by: str | None = None,
               batch_size: int = 2000) -> CsvReport:
    """Register every valid line of a CSV file; report every line."""
    rows = read_csv(data, columns=columns)
    stats = registry.register_many(rows.forms, source=source, kind="csv", by=by,
                                   batch_size=batch_size, origins=rows.origins(source, by))
    return rows.report(stats)


def _column(field: str, column_of: Mapping[str, str]) -> str | None:
    """The header of the column a form field came from (``careNeeds.careCategory[1]`` ->
    its column)."""
    path = field.split("[", 1)[0]
    for target, header in column_of.items():
        if path == target or (target in SPLIT and path in SPLIT[target]):
            return header
    return None
