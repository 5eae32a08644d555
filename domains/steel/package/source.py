"""Where ``tsunagu steel export --piece`` and the supply-chain view get a ``Provenance``:
signed records read from a file or a directory, verified by ``build_provenance``; and
``find_provenances``, the same for the view's searches, which a running hub supplies (a view
without one refuses with ``ChainUnavailable``: no page may show a chain nobody verified).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from domains.steel.errors import SteelCode
from domains.steel.package.bundle import PACKAGE
from domains.steel.provenance import Provenance
from domains.steel.verify import verify_chain
from trust.errors import TsunaguError

Records = Sequence[Mapping[str, Any]]
ProvenanceBuilder = Callable[[Records, str], Provenance]


class ChainUnavailable(TsunaguError):
    """The chain side's verification is not installed: no provenance can be built."""

    code = SteelCode.CHAIN_UNAVAILABLE


class SourceUnreadable(TsunaguError):
    """The records file or directory cannot be read as JSON records."""

    code = SteelCode.SOURCE_UNREADABLE


def build_provenance(records: Records, piece_id: str) -> Provenance:
    """Verify the chain of ``piece_id`` in ``records`` (``domains.steel.verify``): every
    signature, parent hash, mass balance and holder, back to the mill's certificate."""
    return verify_chain(records, piece_id)


def find_provenances(query: str) -> list[Provenance]:
    """THE VIEW'S HOOK (a ``domains.steel.view.tree.ProvenanceFinder``): the provenance of
    every piece a heat number, certificate or document number or piece id names. The chain
    side replaces this body too (or passes its own finder to ``view_app``)."""
    raise ChainUnavailable("chain verification not available: no provenance can be shown "
                           "for a query yet")


def _records_of(value: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(value, dict) and value.get("type") == PACKAGE:
        value = value.get("records")
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise SourceUnreadable(f"{where}: neither a record, a list of records nor a "
                               "provenance package")
    return value


def read_records(path: Path) -> list[dict[str, Any]]:
    """A provenance package's records, a JSON file of one record or a list of them, or
    every ``*.json``/``*.jsonld`` file of a directory (in name order)."""
    files = (sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonld"))
             if path.is_dir() else [path])
    records: list[dict[str, Any]] = []
    for file in files:
        try:
            value = json.loads(file.read_bytes())
        except (OSError, ValueError) as exc:
            raise SourceUnreadable(f"{file}: cannot be read as JSON "
                                   f"({type(exc).__name__})") from exc
        records += _records_of(value, str(file))
    return records


def provenance_from(path: Path, piece_id: str,
                    builder: ProvenanceBuilder | None = None) -> Provenance:
    return (builder or build_provenance)(read_records(path), piece_id)
