"""trust.jsonld's shape cache: a cached verdict is always the verdict a full check gives.

check_no_dropped_terms remembers which document shapes passed; these tests compare it with
the uncached check (expansion plus the undefined-term walk, which is what it ran before the
cache) on random documents over the bundled contexts, and pin the cases that make a shape
subtle: scoped contexts, vocabulary-typed values, keys whose meaning depends on @type.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connector.plugins.registry import plugin_contexts
from domains.bosai import plugin as bosai
from domains.bosai import vocab
from tests.jsonld.helpers import offer, raises
from trust import jsonld
from trust.errors import JsonLdError
from trust.jsonld import shape_cache

BOSAI = vocab.CONTEXT_URL
RECORD_CONTEXT = [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1, BOSAI]


CONTEXTS = plugin_contexts([bosai])  # what a connector running bosai serves
check_dropped = functools.partial(jsonld.check_no_dropped_terms, contexts=CONTEXTS)


def cache() -> shape_cache.ShapeCache:
    return shape_cache.shape_cache(CONTEXTS)


def uncached(document: Any) -> None:
    """check_no_dropped_terms as it was before the shape cache."""
    shape_cache._check_expanded(jsonld.expand(document, CONTEXTS), document, CONTEXTS)


def verdict(check, document: Any) -> tuple | None:
    """None for a pass, else everything an error says (the path and message included)."""
    try:
        check(document)
    except JsonLdError as error:
        return error.code, error.details.get("term"), error.details.get("path"), error.message
    except Exception as error:  # both paths must fail the same way
        return "raised", type(error).__name__
    return None


def evacuee(i: int = 0, **changes: Any) -> dict:
    record = {"@context": list(RECORD_CONTEXT), "id": f"urn:uuid:evacuee-{i}",
              "type": "Evacuee", "version": 1, "modified": "2025-01-17T07:00:00Z",
              "familyName": f"山田{i}", "givenName": "花子", "birthDate": "1948-04-01",
              "sex": "female", "address": f"神戸市東灘区{i}",
              "stayLocation": {"stayType": "shelter", "shelterId": f"28110-{i}"},
              "consentToDisclose": True,
              "careNeeds": {"careCategory": ["elderly"], "medicalNeed": ["dialysis"],
                            "careNotes": f"note {i}"}}
    record.update(changes)
    return record


def shelter(i: int = 0) -> dict:
    return {"@context": list(RECORD_CONTEXT), "id": f"urn:uuid:shelter-{i}",
            "type": "ShelterStatus", "version": 3, "shelterId": f"28110-{i}",
            "name": f"小学校{i}", "shelterType": ["designated_shelter", "welfare_shelter"],
            "open": True, "capacity": 450 + i, "population": {"day": i, "night": 2 * i},
            "needs": ["飲料水", f"毛布{i}"]}


def odrl_offer() -> dict:
    return {"@context": [jsonld.ODRL_CONTEXT, jsonld.TSUNAGU_V1], "@type": "Offer",
            "@id": "urn:uuid:policy-1", "target": "urn:uuid:asset-1",
            "permission": [{"action": "use", "constraint": [
                {"leftOperand": "tsunagu:disasterPhase", "operator": "eq",
                 "rightOperand": {"@id": "tsunagu:disaster_response"}}]}]}


def dsp_dataset() -> dict:
    return {"@context": [jsonld.DSP_CONTEXT], "@type": "Dataset", "@id": "urn:ds",
            "hasPolicy": [{"@type": "Offer", "@id": "urn:p", "permission": [{"action": "use"}]}],
            "distribution": [{"@type": "Distribution", "format": "HttpData-PULL"}]}


def dsp_error() -> dict:
    return {"@context": [jsonld.DSP_CONTEXT], "@type": "CatalogError", "code": "404",
            "reason": ["not found"]}


def tsunagu_record() -> dict:
    return {"@context": [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1], "id": "urn:r",
            "type": "Record", "version": 2, "wasDerivedFrom": ["urn:r0"],
            "disasterPhase": "recovery", "name": "x", "description": {"@value": "d",
                                                                     "@language": "ja"}}


# An inline context where "kind" is a plain literal, except under type B and under "child",
# whose scoped contexts make it vocabulary-typed: the same key, free or kept by @type/path.
INLINE = {"@version": 1.1, "ex": "https://example.org/ns#", "v": "ex:v", "w": "ex:w",
          "kind": "ex:kind", "note": "ex:note", "A": "ex:A", "lang": "@language",
          "B": {"@id": "ex:B", "@context": {"kind": {"@id": "ex:kind", "@type": "@vocab"}}},
          "ref": {"@id": "ex:ref", "@type": "@id"},
          "label": {"@id": "ex:label", "@container": "@language"},
          "child": {"@id": "ex:child",
                    "@context": {"kind": {"@id": "ex:kind", "@type": "@vocab"}}}}


def inline(type_: str = "A", kind: str = "v") -> dict:
    return {"@context": INLINE, "@type": type_, "@id": "urn:i", "kind": kind, "note": "n",
            "ref": "urn:x", "child": {"@type": "A", "kind": "w", "note": "m"}}


TEMPLATES = [evacuee, shelter, odrl_offer, dsp_dataset, dsp_error, tsunagu_record, inline]


def _terms(value: Any) -> set[str]:
    """Every term defined anywhere in a context, scoped contexts included."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if not key.startswith("@"):
                found.add(key)
            found |= _terms(item)
    elif isinstance(value, list):
        for item in value:
            found |= _terms(item)
    return found


TERMS = sorted(set().union(*(_terms(CONTEXTS.load(url)) for url in
                             [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1, jsonld.DSP_CONTEXT,
                              jsonld.ODRL_CONTEXT]), _terms(INLINE),
                           _terms(json.loads(vocab.CONTEXT.path.read_text()))))
MISSPELT = ["constrain", "Ofer", "raed", "eqq", "femal", "tent", "stayTyp", "evening",
            "Evacue", "verison", "kindd", "Catalogg"]
KEYWORDS = ["@id", "@type", "@value", "@language", "@list", "@set", "@index", "@graph",
            "@json", "@none", "@vocab", "@direction", "@foo"]
OTHER_STRINGS = ["", "x", "山田", "free text", "urn:uuid:1", "https://example.org/T",
                 "tsunagu:disaster_response", "bosai:Evacuee", "ex:v", "_:b0", "ja", "ltr",
                 "2025-01-17", "3"]
KEYS = st.sampled_from(TERMS + MISSPELT + KEYWORDS + ["ex:p", "https://example.org/p"])
STRINGS = st.sampled_from(TERMS + MISSPELT + KEYWORDS + OTHER_STRINGS)
SCALARS = st.one_of(STRINGS, st.none(), st.booleans(), st.integers(-3, 3), st.just(1.5))


def _mutate(data: st.DataObject, value: Any, depth: int = 0) -> Any:
    """A random variant of ``value``: keys renamed, added or dropped, values replaced by
    other strings, nulls, numbers, lists or nested objects. @context values stay."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "@context":
                out[key] = item
                continue
            action = data.draw(st.sampled_from(
                ["keep"] * 40 + ["rename", "drop", "scalar", "list", "nest"]))
            if action == "rename":
                key = data.draw(KEYS)
            if action == "drop":
                continue
            if action == "scalar":
                item = data.draw(SCALARS)
            elif action == "list":
                item = [item]
            elif action == "nest" and depth < 3:
                item = {data.draw(KEYS): item}
            out[key] = _mutate(data, item, depth + 1)
        if data.draw(st.integers(0, 19)) == 0:
            out[data.draw(KEYS)] = data.draw(SCALARS)
        return out
    if isinstance(value, list):
        return [_mutate(data, item, depth + 1) for item in value]
    if isinstance(value, str) and data.draw(st.integers(0, 9)) == 0:
        return data.draw(STRINGS)
    return value


def _restring(data: st.DataObject, value: Any) -> Any:
    """``value`` with the same skeleton (keys, lists, kinds) and some strings replaced."""
    if isinstance(value, dict):
        return {k: v if k == "@context" else _restring(data, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restring(data, item) for item in value]
    if isinstance(value, str) and data.draw(st.booleans()):
        return data.draw(STRINGS)
    return value


# --------------------------------------------------------------------------- the check


def test_check_no_dropped_terms():
    jsonld.check_no_dropped_terms(offer())
    policy = offer(duty=[{"action": "use", "contraint": []}])
    assert raises("jsonld.dropped_term", policy, jsonld.check_no_dropped_terms).details == {
        "term": "contraint", "path": "$.permission[0].duty[0].contraint"}


def test_check_no_dropped_terms_refuses_undefined_term_vocabularies():
    # A context whose @vocab catches undefined terms does not drop them; records refuse them.
    document = {"@context": [jsonld.TSUNAGU_V1, {
                    "@vocab": "https://www.w3.org/ns/credentials/undefined-term#"}],
                "@id": "urn:r", "verison": 2}
    jsonld.expand(document)  # a general expansion keeps it
    assert raises("jsonld.dropped_term", document,
                  jsonld.check_no_dropped_terms).details["term"] == "verison"


# --------------------------------------------------------------------------- property


@settings(max_examples=2500, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_cached_verdict_equals_uncached_verdict(data):
    # The shape cache is NOT cleared between examples: later documents meet shapes that
    # earlier ones left behind, which is how a wrong hit would show.
    first = _mutate(data, data.draw(st.sampled_from(TEMPLATES))())
    second = _restring(data, first)  # same skeleton, other strings: the cache's bet
    for document in (first, second):
        shape = shape_cache._shape(document)
        hit = shape is not None and cache().passed(*shape)
        expected = verdict(uncached, copy.deepcopy(document))
        event("hit" if hit else "pass" if expected is None else "error")
        if hit:
            assert expected is None, document
        assert verdict(check_dropped, document) == expected, document


# --------------------------------------------------------------------------- targeted


@pytest.fixture
def counting(monkeypatch) -> list[Any]:
    """Documents check_no_dropped_terms sent to pyld (its cache misses), in order."""
    seen: list[Any] = []
    real = shape_cache.expand_by

    def counted(processor, document, source, contexts):
        if processor is shape_cache._RECORDER:  # not plain expand(), which uncached() uses
            seen.append(source)
        return real(processor, document, source, contexts)

    monkeypatch.setattr(shape_cache, "expand_by", counted)
    CONTEXTS.clear_caches()
    return seen


def test_records_of_one_shape_expand_once(counting):
    for i in range(50):
        check_dropped(evacuee(i))
        check_dropped(shelter(i))
    # names, ids, addresses, notes and counts differ; the shape does not
    assert len(counting) == 2


@pytest.mark.parametrize(("changes", "term", "path"), [
    ({"sex": "femal"}, "femal", "$.sex"),
    ({"stayLocation": {"stayType": "tent", "shelterId": "s"}}, "tent", "$.stayLocation.stayType"),
    ({"careNeeds": {"careCategory": ["elderly"], "medicalNeed": ["dyalisis"],
                    "careNotes": "n"}}, "dyalisis", "$.careNeeds.medicalNeed"),
    ({"type": "Evacue"}, "Evacue", None),
])
def test_vocabulary_values_in_scoped_contexts_are_part_of_the_shape(counting, changes, term,
                                                                     path):
    check_dropped(evacuee())
    with pytest.raises(JsonLdError) as caught:
        check_dropped(evacuee(**changes))
    assert caught.value.details["term"] == term
    if path is not None:
        assert caught.value.details["path"] == path
    assert verdict(uncached, evacuee(**changes))[:3] == (caught.value.code, term,
                                                         caught.value.details["path"])


def test_property_scoped_term_outside_its_property_is_refused(counting):
    # "stayType" is defined only inside stayLocation's scoped context.
    check_dropped(evacuee())
    moved = evacuee(stayLocation={"shelterId": "s"}, careNeeds={"stayType": "shelter"})
    assert verdict(check_dropped, moved)[1] == "stayType"


def test_type_scoped_context_decides_which_keys_are_defined(counting):
    check_dropped(dsp_error())  # "code" is CatalogError's scoped term
    other = {**dsp_error(), "@type": "CatalogRequestMessage"}
    assert verdict(check_dropped, other)[:2] == ("jsonld.dropped_term", "code")


def test_a_key_free_under_one_type_is_kept_under_another(counting):
    check = check_dropped
    check(inline("A", "anything"))  # kind is a literal under A: its value is free
    check(inline("A", "other text"))
    assert len(counting) == 1
    # under B, "kind" is vocabulary-typed: an undefined token must not ride A's verdict
    assert verdict(check, inline("B", "anything"))[:2] == ("jsonld.dropped_term", "anything")
    check(inline("B", "v"))  # defined: passes, and B's shape keeps kind's value
    assert verdict(check, inline("B", "zzz"))[:2] == ("jsonld.dropped_term", "zzz")
    check(inline("A", "zzz"))  # A's mask is still there
    assert len(counting) == 4
    # nested under "child", kind is vocabulary-typed whatever the type
    nested = inline()
    nested["child"]["kind"] = "nope"
    assert verdict(check, nested)[:2] == ("jsonld.dropped_term", "nope")


def test_value_kinds_are_part_of_the_shape(counting):
    check = check_dropped
    check(tsunagu_record())
    for value, term in [({"undefinedTerm": 1}, "undefinedTerm"), ([{"nmae": "x"}], "nmae")]:
        assert verdict(check, {**tsunagu_record(), "name": value})[1] == term
    for value in [None, 5, True, ["a", "b"]]:
        document = {**tsunagu_record(), "name": value}
        assert verdict(check, document) == verdict(uncached, document)


def test_language_and_direction_values_are_kept():
    check = check_dropped
    CONTEXTS.clear_caches()
    good = {"@context": INLINE, "@id": "urn:a", "note": {"@value": "n", "@direction": "ltr"}}
    check(good)
    bad = copy.deepcopy(good)
    bad["note"]["@direction"] = "up"
    assert verdict(check, bad)[0] == "jsonld.syntax"  # not good's cached pass
    assert verdict(check, bad) == verdict(uncached, bad)


def test_errors_are_recomputed_with_their_own_path(counting):
    # The path of a dropped term is found by value, so two documents of one shape can have
    # different paths: errors are never served from the cache.
    def policy(first_action: str) -> dict:
        document = odrl_offer()
        document["permission"] = [{"action": first_action, "contraint": []},
                                  {"action": "use", "contraint": []}]
        return document

    for action in ["use", "use", "read"]:
        assert verdict(check_dropped, policy(action)) == \
            verdict(uncached, policy(action))
    assert len(counting) == 3


def test_identifiers_and_literals_are_free_keyword_like_ones_are_not(counting):
    check = check_dropped
    check(evacuee(id="urn:a"))
    check(evacuee(id="did:key:z6Mk", wasAttributedTo="did:key:z"))  # another skeleton
    check(evacuee(id="relative-id"))
    assert len(counting) == 2
    for document in [evacuee(id="@foo"), evacuee(familyName="@type")]:
        assert verdict(check, document) == verdict(uncached, document)
    assert len(counting) == 4


def test_the_cache_is_bounded_and_keeps_few_masks_per_skeleton():
    CONTEXTS.clear_caches()
    limit = cache().passes.maxsize
    for i in range(limit + 100):  # same skeleton, a different (kept) @type value each time
        check_dropped({"@context": INLINE, "@id": "urn:a",
                                       "@type": f"https://example.org/T{i}", "note": "n"})
    assert cache().passes.currsize == limit
    assert len(cache().masks) == 1
    # one skeleton, six different masks: each type makes another key vocabulary-typed
    CONTEXTS.clear_caches()
    context = {"ex": "https://example.org/ns#", "vv": "ex:vv",
               **{f"k{i}": f"ex:k{i}" for i in range(6)},
               **{f"T{i}": {"@id": f"ex:T{i}", "@context": {
                   f"k{i}": {"@id": f"ex:k{i}", "@type": "@vocab"}}} for i in range(6)}}
    for i in range(6):
        check_dropped({"@context": context, "@type": f"T{i}",
                                       **{f"k{j}": "vv" for j in range(6)}})
    [(_, masks)] = cache().masks.values()
    assert len(masks) == shape_cache._SHAPE_MASKS
    big = {"@context": INLINE, "@id": "urn:a", "note": ["n"] * shape_cache._SHAPE_MAX_TOKENS}
    assert shape_cache._shape(big) is None  # too large to key: checked in full, not cached
    check_dropped(big)


def test_documents_with_non_json_values_bypass_the_cache(counting):
    class Text(str):
        pass

    document = evacuee(familyName=Text("山田"))
    assert shape_cache._shape(document) is None
    check_dropped(document)  # checked in full (plain expand), not learned
    assert counting == [] and cache().passes.currsize == 0
    document["careNeeds"]["careNotse"] = Text("x")
    assert verdict(check_dropped, document)[1] == "careNotse"


def test_clearing_caches_forgets_shapes(tmp_path):
    """A verdict rests on the files as verified: after clear_caches they are read again."""
    original = jsonld.CORE_FILES[jsonld.TSUNAGU_V1]
    copied = tmp_path / "tsunagu-v1.jsonld"
    copied.write_bytes(original.path.read_bytes())
    contexts = jsonld.ContextRegistry({**jsonld.CORE_FILES,
                                       jsonld.TSUNAGU_V1: jsonld.PinnedContext(copied,
                                                                               original.sha256)})
    record = tsunagu_record()
    jsonld.check_no_dropped_terms(record, contexts)
    copied.write_bytes(original.path.read_bytes().replace(b"xsd:integer", b"xsd:string"))
    jsonld.check_no_dropped_terms(record, contexts)  # verified once: the cached pass holds
    contexts.clear_caches()
    assert verdict(functools.partial(jsonld.check_no_dropped_terms, contexts=contexts),
                   record)[0] == "jsonld.context_integrity"


def test_registering_a_context_forgets_shapes(tmp_path):
    contexts = jsonld.ContextRegistry.core()
    jsonld.check_no_dropped_terms(tsunagu_record(), contexts)
    assert len(shape_cache.shape_cache(contexts).passes)
    path = tmp_path / "domain.jsonld"
    path.write_text(json.dumps({"@context": {"d": "https://example.org/d#"}}))
    contexts.register("https://example.org/contexts/d", path,
                      hashlib.sha256(path.read_bytes()).hexdigest())
    assert not len(shape_cache.shape_cache(contexts).passes)


def test_each_registry_has_its_own_shapes(counting):
    """A record of bosai passes under a registry serving bosai's context; the same shape
    under a registry without it (another connector) is refused, not served from a cache."""
    record = evacuee()
    check_dropped(record)
    check_dropped(evacuee(1))  # a hit under CONTEXTS
    assert len(counting) == 1
    for other in (jsonld.ContextRegistry.core(), jsonld.CORE_CONTEXTS):
        assert verdict(functools.partial(jsonld.check_no_dropped_terms, contexts=other),
                       record)[0] == "jsonld.remote_context"
        assert not any(BOSAI in skeleton for skeleton in shape_cache.shape_cache(other).masks)
    core = jsonld.ContextRegistry.core()
    jsonld.check_no_dropped_terms(tsunagu_record(), core)
    assert shape_cache.shape_cache(core) is not cache()
    # Both refusals ran in full, and core's first record was learned anew: nothing shared.
    assert len(counting) == 4


def test_one_url_two_files_two_registries_two_verdicts(tmp_path, counting):
    """The shape holds the @context URLs, not what they mean: only the registry does. Two
    connectors serving one URL from different files never share a verdict."""
    url = "https://example.org/contexts/domain-v1"
    registries = []
    for name, terms in [("defines", {"level": "https://example.org/d#level"}),
                        ("lacks", {"other": "https://example.org/d#other"})]:
        path = tmp_path / f"{name}.jsonld"
        path.write_text(json.dumps({"@context": terms}))
        contexts = jsonld.ContextRegistry.core()
        contexts.register(url, path, hashlib.sha256(path.read_bytes()).hexdigest())
        registries.append(contexts)
    defines, lacks = registries

    def uncached_lacks(document: Any) -> None:
        shape_cache._check_expanded(jsonld.expand(document, lacks), document)

    document = {"@context": [jsonld.TSUNAGU_V1, url], "@id": "urn:x", "level": 2}
    for _ in range(2):
        jsonld.check_no_dropped_terms(document, defines)
        error = verdict(functools.partial(jsonld.check_no_dropped_terms, contexts=lacks),
                        document)
        assert error == verdict(uncached_lacks, document)
        assert error[:3] == ("jsonld.dropped_term", "level", "$.level")
    assert len(counting) == 3  # defines learned its shape once; errors are never cached
