"""Checks that personal values are gone: from a SQLite store's files, from logs, from bodies.

A value is looked for in every form it may take on disk: UTF-8 as written, and its digits in
full width. The store's three files are read as bytes (the database, its ``-wal`` and its
``-shm``), so a value that only an un-checkpointed WAL frame or a freed page still holds is
found too.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def store_files(path: Path) -> list[Path]:
    """A SQLite store's database, WAL and shared-memory files (those that exist)."""
    path = Path(path)
    return [p for p in (path, path.with_name(path.name + "-wal"),
                        path.with_name(path.name + "-shm")) if p.exists()]


def spellings(value: str) -> set[bytes]:
    """``value`` as UTF-8, and with its ASCII digits in full width."""
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isdigit() else c for c in value)
    return {value.encode(), wide.encode()}


def found_in_files(paths: Iterable[Path], values: Iterable[str]) -> list[str]:
    """``file: value`` for every spelling of a value that a file's bytes contain."""
    hits = []
    for path in paths:
        data = Path(path).read_bytes()
        for value in values:
            if any(s in data for s in spellings(value)):
                hits.append(f"{Path(path).name}: {value!r}")
    return hits


def found_in_text(text: str, values: Iterable[str]) -> list[str]:
    return [v for v in values if any(s.decode() in text for s in spellings(v))]
