"""``tsunagu pmh import-fhir`` and ``export-fhir`` (filled in below)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    pmh = subparsers.add_parser("pmh", help="母子保健 hub: FHIR R4 import and export")
    pmh.add_subparsers(dest="pmh_command", required=True, metavar="ACTION")
