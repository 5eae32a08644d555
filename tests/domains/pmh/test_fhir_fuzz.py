"""Whatever a clinic's EHR sends, the import converts it or refuses it with typed problems
(path and code): never another exception, never a half result. The same for records handed
to the export; what it accepts comes back unchanged."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.japanese.mynumber import PersonalNumberRefused
from domains.pmh.errors import BundleRefused
from domains.pmh.fhir.bundle import export_bundle, import_bundle
from tests.domains.pmh import family
from tests.domains.pmh.test_fhir_import import clinic

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6)


def paths(value: Any, here: tuple = ()) -> list[tuple]:
    out = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += paths(item, (*here, index))
    return out


ELEMENTS = ["identifier", "meta", "extension", "name", "component", "class", "payor", "period",
            "subject", "code", "valueQuantity", "reference", "type", "profile", "relationship",
            "protocolApplied", "performer", "given", "fullUrl", "resource", "value",
            "contained"]


def get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replace(value.get(head), rest, new)}
    copy = list(value)
    copy[head] = replace(copy[head], rest, new)
    return copy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_changed_bundle_is_converted_or_refused_with_typed_problems(data):
    bundle = clinic()
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):  # change a value that is there
            where = data.draw(st.sampled_from(paths(bundle)[1:]))
        else:  # or add an element pmh reads, to an object
            objects = [p for p in paths(bundle) if isinstance(get(bundle, p), dict)]
            where = (*data.draw(st.sampled_from(objects)), data.draw(st.sampled_from(ELEMENTS)))
        bundle = replace(bundle, where, data.draw(JSON))
    try:
        records = import_bundle(bundle)
    except BundleRefused as refused:
        problems = refused.details["problems"]
        assert problems and all(p["path"] and p["code"] for p in problems)
    except PersonalNumberRefused as refused:
        assert refused.field.startswith("Bundle")
    else:
        assert isinstance(records, list)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_changed_records_are_exported_or_refused_with_typed_problems(data):
    records = family.family()
    for _ in range(data.draw(st.integers(1, 2))):
        index = data.draw(st.integers(0, len(records) - 1))
        where = data.draw(st.sampled_from(paths(records[index])))
        records[index] = replace(records[index], where, data.draw(JSON))
    try:
        bundle = export_bundle(records)
    except BundleRefused as refused:
        assert all(p["path"] and p["code"] for p in refused.details["problems"])
    except PersonalNumberRefused as refused:
        assert refused.field.startswith("$")
    else:
        assert import_bundle(bundle) == records
