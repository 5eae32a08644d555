"""A FHIR Bundle in, pmh records out, and back: all or nothing.

``import_bundle`` refuses the whole Bundle when anything in it is wrong, listing every problem
with its path and code (``BundleRefused``): an entry that fails FHIR validation, a reference to
no entry of the Bundle, a resource pmh does not hold, a subsidy number with a wrong check
digit, an impossible measurement. A My Number anywhere refuses it at once
(``personal_number.refused``). Nothing is returned half, so nothing is stored half.

``export_bundle`` makes a ``collection`` Bundle whose references all resolve inside it; a
child's growth Observation exported with the child gains its band against the growth
reference (``fhir.growth``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import BundleRefused, PmhCode, PmhInputError
from domains.pmh.fhir import convert, growth, privacy, validate
from domains.pmh.fhir.refs import Json, Reader, Target, Writer, full_url, record_id_of, relative
from domains.pmh.fhir.resources import patient, pregnancy, related_person
from domains.pmh.model.checks import check_record, json_path
from domains.pmh.model.content import refuse_my_number_in
from trust.errors import ValidationError

Problems = list[ValidationError]
# Deeper than any resource pmh reads (about 8): checked first, without recursion, so that a
# crafted input cannot exhaust the stack of the recursive checks after it.
MAX_DEPTH = 64


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    pending = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, Mapping) else \
            node if isinstance(node, list) else ()
        pending.extend((child, depth + 1) for child in children)
    return False


def _deep(path: str) -> BundleRefused:
    return BundleRefused([PmhInputError(f"{path} is nested deeper than {MAX_DEPTH} levels",
                                        field=path, code=PmhCode.FHIR_INVALID)])


def import_bundle(bundle: Any) -> list[Json]:
    """The pmh records of every entry of ``bundle`` (a FHIR R4 Bundle as parsed JSON)."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise BundleRefused([PmhInputError("Bundle.resourceType: not a FHIR Bundle",
                                           field="Bundle.resourceType",
                                           code=PmhCode.FHIR_INVALID)])
    if _too_deep(bundle):
        raise _deep("Bundle")
    entries = bundle.get("entry") or []
    privacy.refuse_my_number(bundle, "Bundle")
    problems: Problems = list(validate.problems(
        {**bundle, "entry": [_shell(e) for e in entries]} if isinstance(entries, list)
        else bundle, "Bundle"))
    if problems:
        raise BundleRefused(problems)
    valid: dict[int, Mapping[str, Any]] = {}
    for index, entry in enumerate(entries):
        path = f"Bundle.entry[{index}].resource"
        found = validate.problems(entry.get("resource"), path)
        problems += found
        if not found:
            valid[index] = entry["resource"]
    # Every entry with a resource may be referred to (an invalid one is reported once, not
    # again by each reference to it); only valid ones are converted.
    present = {i: e["resource"] for i, e in enumerate(entries)
               if isinstance(e.get("resource"), Mapping)
               and isinstance(e["resource"].get("resourceType"), str)}
    targets, ids = _targets(entries, present, problems)
    roles = _roles(valid, targets, ids, problems)
    records: list[Json] = []
    for index, resource in valid.items():
        if index not in ids or (resource["resourceType"] == "Patient" and index not in roles):
            continue  # its problem is listed already
        path = f"Bundle.entry[{index}].resource"
        reader = Reader(resource, path, ids[index], targets, roles.get(index))
        try:
            record = convert.from_fhir(reader)
            check_record(record, lambda field, p=path: f"{p} (pmh record {json_path(field)})")
        except ValidationError as exc:
            problems.append(exc)
            continue
        records.append(record)
    if problems:
        raise BundleRefused(sorted(problems, key=_entry_index))
    return records


def _entry_index(problem: ValidationError) -> int:
    """Problems are listed in Bundle order (the Bundle's own first)."""
    path = getattr(problem, "field", "")
    if path.startswith("Bundle.entry["):
        return int(path[len("Bundle.entry["):].split("]", 1)[0])
    return -1


def _shell(entry: Any) -> Any:
    """An entry without its resource: the Bundle is validated apart from its resources."""
    return {k: v for k, v in entry.items() if k != "resource"} if isinstance(entry, Mapping) \
        else entry


def _targets(entries: Sequence[Any], present: Mapping[int, Mapping[str, Any]],
             problems: Problems) -> tuple[dict[str, Target], dict[int, str]]:
    """What each reference form names (fullUrl, ``Type/id``), and each entry's record IRI."""
    targets: dict[str, Target] = {}
    ids: dict[int, str] = {}
    seen: dict[str, int] = {}
    for index, resource in present.items():
        full = entries[index].get("fullUrl")
        record_id = record_id_of(resource, full)
        if record_id is None:
            problems.append(PmhInputError(
                f"Bundle.entry[{index}].fullUrl is required by pmh (or an identifier of "
                "system urn:ietf:rfc:3986): it becomes the record's id",
                field=f"Bundle.entry[{index}].fullUrl", code=PmhCode.FHIR_MISSING))
            continue
        if record_id in seen:
            problems.append(PmhInputError(
                f"Bundle.entry[{index}] has the same record id as Bundle.entry[{seen[record_id]}]",
                field=f"Bundle.entry[{index}].fullUrl", code=PmhCode.FHIR_INVALID))
            continue
        seen[record_id] = index
        ids[index] = record_id
        target = Target(resource["resourceType"], record_id)
        if isinstance(full, str):
            targets[full] = targets[relative(full)] = target
        if resource.get("id"):
            targets[f"{resource['resourceType']}/{resource['id']}"] = target
    return targets, ids


def _roles(valid: Mapping[int, Mapping[str, Any]], targets: Mapping[str, Target],
           ids: Mapping[int, str], problems: Problems) -> dict[int, str]:
    """Mother or Child for each Patient: from its meta.profile, else from what refers to it
    (a RelatedPerson's patient is a child, its mother extension and a pregnancy registration's
    subject a mother)."""
    said: dict[str, set[str]] = {}

    def mark(reference: Any, term: str) -> None:
        ref = reference.get("reference") if isinstance(reference, Mapping) else None
        target = isinstance(ref, str) and (targets.get(ref) or targets.get(relative(ref)))
        if target:
            said.setdefault(target.record_id, set()).add(term)

    for resource in valid.values():
        if resource["resourceType"] == "RelatedPerson":
            mark(resource.get("patient"), vocab.CHILD)
            _, extension = related_person.mother_extension(resource)
            if extension is not None:
                mark(extension.get("valueReference"), vocab.MOTHER)
        elif resource["resourceType"] == "Observation" and pregnancy.is_registration(resource):
            mark(resource.get("subject"), vocab.MOTHER)
    roles: dict[int, str] = {}
    for index, resource in valid.items():
        if resource["resourceType"] != "Patient" or index not in ids:
            continue
        inferred = said.get(ids[index], set())
        declared = patient.role(resource)
        found = {declared} if declared else inferred
        if len(found) != 1:
            path = f"Bundle.entry[{index}].resource.meta.profile"
            problems.append(PmhInputError(
                f"{path}: cannot tell whether this Patient is a mother or a child; give the "
                f"profile {patient.PROFILES[vocab.MOTHER]} or {patient.PROFILES[vocab.CHILD]}, "
                "or link it with a RelatedPerson", field=path, code=PmhCode.FHIR_UNSUPPORTED))
            continue
        roles[index] = found.pop()
    return roles


def export_bundle(records: Iterable[Mapping[str, Any]]) -> Json:
    """A FHIR R4 ``collection`` Bundle of ``records`` (pmh records, each checked first)."""
    records = list(records)
    if _too_deep(records):
        raise _deep("records")
    problems: Problems = []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            problems.append(PmhInputError(f"records[{index}] is not a JSON object",
                                          field=f"records[{index}]"))
            continue
        try:
            term = check_record(record, lambda f, i=index: f"records[{i}] {json_path(f)}")
            refuse_my_number_in(record, term)
        except ValidationError as exc:
            problems.append(exc)
    if problems:
        raise BundleRefused(problems)
    writer = Writer(records)
    children = {r["id"]: r for r in records if r.get("type") == vocab.CHILD}
    entries: list[Json] = []
    for index, record in enumerate(records):
        writer.where = f"records[{index}] "
        try:
            resource = convert.to_fhir(record, writer)
            placed = growth.placement(record, children)
            if placed is not None:
                growth.annotate(resource, placed)
            # A failure here is a fault of pmh's mapping, not of the record: still refused.
            validate.check(resource, f"Bundle.entry[{index}].resource")
        except ValidationError as exc:
            problems.append(exc)
            continue
        entries.append({"fullUrl": full_url(record["id"]), "resource": resource})
    if problems:
        raise BundleRefused(problems)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
