"""Importers of the bosai hub: shelter master CSVs and shelter status snapshots.

Pure parsing (bytes in, parsed rows and a per-row report out); ``domains.bosai.imports``
adds the store (raw file kept, run recorded) and ``domains.bosai.cli`` the command line.

| module | one idea |
|---|---|
| ``source`` | encoding detection, CSV records with line numbers, undecodable bytes kept visible |
| ``table`` | header + well-formed data rows; shape, encoding refused per row; My Numbers withheld |
| ``personal`` | My Numbers (個人番号): which cells hold one; the blotted copy that is kept |
| ``report`` | imported / corrected / refused per row, with what and why |
| ``cells`` | tolerant readers of one cell: flags, coordinates, 団体コード, capacities, names |
| ``formats`` | the three public shelter list formats, detected from the header |
| ``shelters`` | a shelter list row to a ``Site`` |
| ``mapping`` | the per-municipality column mapping of status files (TOML/JSON) |
| ``status`` | a status row to a dated ``StatusEntry`` |
"""

from domains.bosai.importers.mapping import MappingError, StatusMapping, load_mapping, parse_mapping
from domains.bosai.importers.report import ImportReport, Note, Outcome, RowReport
from domains.bosai.importers.shelters import Site, read_shelters
from domains.bosai.importers.source import SourceError
from domains.bosai.importers.status import StatusEntry, read_status, shelter_types

__all__ = [
    "ImportReport",
    "MappingError",
    "Note",
    "Outcome",
    "RowReport",
    "Site",
    "SourceError",
    "StatusEntry",
    "StatusMapping",
    "load_mapping",
    "parse_mapping",
    "read_shelters",
    "read_status",
    "shelter_types",
]
