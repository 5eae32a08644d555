"""What pmh records may not contain, and whom they are about.

The content rule of every pmh record type refuses a My Number in any free-text field (which
strings are free text comes from the record type's JSON schema, as for bosai) and runs the
checks a schema cannot say (check digits, impossible measurements): on the connector that
publishes a record and on every connector that receives it, whatever path it took.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.data.free_text import free_text
from connector.plugins.contract import ContentRule, RecordSubjects
from domains.japanese.mynumber import PersonalNumberRefused, contains_my_number
from domains.pmh import vocab
from domains.pmh.model.checks import check_domain_rules
from domains.pmh.model.datasets import BY_TERM, schema_of


def refuse_my_number_in(record: Mapping[str, Any], term: str) -> None:
    """``PersonalNumberRefused`` naming the field if a free-text field holds a My Number."""
    for path, text in free_text(record, schema_of(term)):
        if contains_my_number(text):
            raise PersonalNumberRefused(f"{path} looks like a My Number (個人番号); no pmh "
                                        "record may carry one", field=path)


def _rule(term: str) -> ContentRule:
    def rule(record: Mapping[str, Any]) -> None:
        refuse_my_number_in(record, term)
        check_domain_rules(term, record)

    return rule


CONTENT_RULES: dict[str, ContentRule] = {dt.record_type: _rule(term)
                                         for term, dt in BY_TERM.items()}


def _fields(*names: str) -> RecordSubjects:
    def subjects(record: Mapping[str, Any]) -> list[str]:
        return [v for v in (record.get(n) for n in names) if isinstance(v, str)]

    return subjects


# Whom each record is about, for readers limited to some parties (a family's app): a person
# record is about that person; the others about the person they name.
SUBJECTS: dict[str, RecordSubjects] = {
    vocab.type_iri(vocab.MOTHER): _fields("id"),
    vocab.type_iri(vocab.CHILD): _fields("id"),
    vocab.type_iri(vocab.CARE_FLAG): _fields("id"),
    vocab.type_iri(vocab.LINK): _fields("mother", "child"),
    vocab.type_iri(vocab.PREGNANCY): _fields("mother"),
    **{vocab.type_iri(t): _fields("subject")
       for t in (vocab.ENCOUNTER, vocab.OBSERVATION, vocab.IMMUNIZATION, vocab.SUBSIDY,
                 vocab.VOUCHER)},
}
