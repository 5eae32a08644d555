"""Japanese text utilities shared by every domain hub.

- ``dates``: 西暦 and 和暦 dates and times (eras with their exact boundaries), Japan time.
- ``text``: width normalisation that keeps meaningful characters, kana folding, numbers in
  free text, address hyphen variants.

Pure functions, no I/O. Errors are ``trust.errors.TsunaguError`` subclasses with codes under
``ja.`` so an importer can report them per row.
"""

from domains.japanese.dates import (
    ERAS,
    JST,
    Era,
    JapaneseDateError,
    era_of,
    parse_date,
    parse_datetime,
    to_wareki,
)
from domains.japanese.text import (
    JapaneseNumberError,
    fold_kana,
    normalize_address,
    normalize_hyphens,
    normalize_width,
    number_spans,
    numbers_in,
    parse_int,
)

__all__ = [
    "ERAS",
    "JST",
    "Era",
    "JapaneseDateError",
    "JapaneseNumberError",
    "era_of",
    "fold_kana",
    "normalize_address",
    "normalize_hyphens",
    "normalize_width",
    "number_spans",
    "numbers_in",
    "parse_date",
    "parse_datetime",
    "parse_int",
    "to_wareki",
]
