"""What bosai records may not contain (a My Number in free text), and whom they are about.

The registry's own inputs refuse a My Number already; these rules hold for every bosai record
whatever path it takes (the generic record API, a contribution, a transfer from another
participant), on the connector that publishes it and on every connector that receives it.
Which strings are free text comes from each record type's JSON schema
(``connector.data.free_text``): ids, IRIs, dates and codes are not, so a 12-digit run in a
``urn:uuid`` is never mistaken for a person's number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connector.data.free_text import free_text
from connector.plugins.contract import ContentRule
from domains.bosai import vocab
from domains.bosai.datasets import DATASET_TYPES
from domains.japanese.mynumber import PersonalNumberRefused, contains_my_number


def no_my_number(schema: Mapping[str, Any]) -> ContentRule:
    """A rule refusing records of ``schema``'s type with a My Number in free text."""

    def rule(record: Mapping[str, Any]) -> None:
        for path, text in free_text(record, schema):
            if contains_my_number(text):
                raise PersonalNumberRefused(f"{path} looks like a My Number (個人番号); no "
                                            "record may carry one", field=path)

    return rule


CONTENT_RULES: dict[str, ContentRule] = {
    dt.record_type: no_my_number(json.loads(dt.schema.read_bytes()))
    for dt in DATASET_TYPES.values()}


def _evacuee_subjects(record: Mapping[str, Any]) -> list[str]:
    """An Evacuee record is about the person (its id) and, for a household's app, the
    household they were registered with."""
    household = record.get("household")
    found = [record.get("id")]
    if isinstance(household, Mapping):
        found.append(household.get("householdId"))
    return [s for s in found if isinstance(s, str)]


def _medical_subjects(record: Mapping[str, Any]) -> list[str]:
    """A MedicalNeeds record is about the person of its Evacuee record."""
    return [s for s in (record.get("evacuee"),) if isinstance(s, str)]


# Whom bosai's records are about, for readers limited to some parties (the usage gate).
SUBJECTS = {vocab.EVACUEE: _evacuee_subjects, vocab.MEDICAL_NEEDS_TYPE: _medical_subjects}
