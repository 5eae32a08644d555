"""The registry of error codes (trust.errors.ErrorCode) and the HTTP statuses the app API gives
them (connector.api.problems, and each domain plug-in's ``http_statuses``).

* every code is registered once, in the enum of the layer that raises it, with a meaning;
* no code is written as a string literal in the packages (``code="x.y"``, ``code = "x.y"``,
  ``{"code": "x.y"}``, ``exc.code == "x.y"``): code branches on types and enum members;
* the problem+json bodies (status, code, title, type) are what they were when every error
  class carried its own ``http_status``, for a sample of codes from each layer, through a
  real app API;
* a plug-in declares statuses only for its own codes.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from urllib.parse import quote

import pytest

import domains.bosai as bosai_package
from authority.errors import AuthorityCode
from authority.space import GrantRefused
from authority.state import AuthorityError
from connector.api.app import Unavailable
from connector.api.problems import (
    STATUSES,
    TITLES,
    problem_body,
    status_for,
    status_of,
    statuses_with,
)
from connector.api.tokens import AuthError, ScopeError
from connector.bus.connection import NatsConnectError
from connector.bus.messaging import RemoteError, RemoteUnreachable
from connector.control.gate import RecordNotHeld, UsageDenied
from connector.data.contributions import ContributionConflict, ContributionError
from connector.data.records import RecordError, RecordVersionConflict
from connector.errors import ConnectorCode
from connector.plugins.contract import DomainPlugin
from connector.plugins.registry import PluginError, UnknownDatasetType, load_domain_plugins
from connector.protocol.dsp.statemachine import ProtocolError
from connector.store.database import StoreError
from domains.bosai.checkin import CheckInRefused
from domains.bosai.errors import BosaiCode
from domains.bosai.held import NotHeld
from domains.bosai.importers.source import FormatError, SourceError
from domains.bosai.offering import HubUnavailable
from domains.bosai.registry.errors import (
    CardError,
    MyNumberRefused,
    PersonNotFound,
    RegistryInputError,
    ReviewDecided,
)
from domains.bosai.supplies.lifecycle import SupplyError
from domains.japanese.errors import JapaneseCode
from domains.japanese.mynumber import PersonalNumberRefused
from domains.pmh.errors import PmhCode
from domains.steel.errors import SteelCode
from tests.api.conftest import Api, api_factory, authority, connector  # noqa: F401 (fixtures)
from trust.errors import (
    CredentialError,
    CredentialRevoked,
    CredentialStatusUnknown,
    DidError,
    EnvelopeError,
    ErrorCode,
    TrustCode,
    TsunaguError,
    ValidationError,
    registered_codes,
)
from usage_policies.errors import PolicyCode, SignatureError, UnknownTermError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("trust", "usage_policies", "catalog", "connector", "authority", "domains")
# Each layer's enum, in its errors module (domains: one per domain package).
LAYER_ENUMS = {
    "trust.errors": TrustCode,
    "usage_policies.errors": PolicyCode,
    "connector.errors": ConnectorCode,
    "authority.errors": AuthorityCode,
    "domains.japanese.errors": JapaneseCode,
    "domains.bosai.errors": BosaiCode,
    "domains.pmh.errors": PmhCode,
    "domains.steel.errors": SteelCode,
}
LOOKS_LIKE_A_CODE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


def source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def import_everything() -> None:
    """Every module of the packages, so that every error class and enum is defined."""
    for path in source_files():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module.endswith("__main__"):
            continue
        importlib.import_module(module.removesuffix(".__init__"))


def error_classes() -> list[type[TsunaguError]]:
    found, pending = [], [TsunaguError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


# ---------------------------------------------------------------- the registry

def test_every_code_is_registered_once_with_a_meaning_in_its_layers_enum():
    import_everything()
    codes = registered_codes()
    enums = {type(code) for code in codes}
    assert enums == set(LAYER_ENUMS.values()), "one enum per layer, in its errors module"
    for module, enum in LAYER_ENUMS.items():
        assert enum.__module__ == module
    values = [code.value for code in codes]
    duplicates = sorted({v for v in values if values.count(v) > 1})
    assert not duplicates, f"codes registered twice: {duplicates}"
    for code in codes:
        assert LOOKS_LIKE_A_CODE.fullmatch(code) or code == ConnectorCode.INTERNAL, code
        assert isinstance(code.meaning, str) and code.meaning.strip(), f"{code} has no meaning"
    assert len(codes) > 200


def test_a_code_is_a_string_that_travels_as_itself():
    code = ConnectorCode.RECORD_NOT_FOUND
    assert code == "record.not_found" and f"{code}" == str(code) == "record.not_found"
    assert code.meaning == "no record with this id here"
    assert ConnectorCode("record.not_found") is code
    assert TsunaguError("x", code=code).to_dict()["code"] is code


def test_every_error_class_has_a_registered_code_and_no_http_status():
    import_everything()
    registered = set(registered_codes())
    for cls in error_classes():
        assert isinstance(cls.code, ErrorCode) and cls.code in registered, cls
        assert not hasattr(cls, "http_status"), f"{cls.__qualname__}: statuses are the API's"


def _literal_codes(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and LOOKS_LIKE_A_CODE.fullmatch(n.value)]


def _is_code_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "code" or \
        isinstance(node, ast.Name) and node.id == "code"


def code_literals(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, what, literal) of every code written as a string where a code is expected."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "code":
            found += [(node.value.lineno, "code=", v) for v in _literal_codes(node.value)]
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets = (stmt.targets if isinstance(stmt, ast.Assign) else
                           [stmt.target] if isinstance(stmt, ast.AnnAssign) else [])
                if stmt_value := getattr(stmt, "value", None):
                    if any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
                        found += [(stmt.lineno, "code =", v) for v in _literal_codes(stmt_value)]
        elif isinstance(node, ast.arguments):
            params = [*node.posonlyargs, *node.args]
            pairs = [*zip(params[len(params) - len(node.defaults):], node.defaults, strict=True),
                     *zip(node.kwonlyargs, node.kw_defaults, strict=True)]
            found += [(d.lineno, "code: ... =", v) for a, d in pairs
                      if d is not None and a.arg == "code" for v in _literal_codes(d)]
        elif isinstance(node, ast.Dict):
            found += [(v.lineno, '{"code": ...}', c)
                      for k, v in zip(node.keys, node.values, strict=True)
                      if isinstance(k, ast.Constant) and k.value == "code"
                      for c in _literal_codes(v)]
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_code_attribute(s) for s in sides):
                found += [(node.lineno, "compared with", v) for s in sides
                          for v in _literal_codes(s)]
    return found


def test_no_code_is_written_as_a_string_in_the_packages():
    """Raise sites pass enum members, and nothing branches on a code string."""
    left = [f"{path.relative_to(ROOT)}:{line}: {what} {value!r}"
            for path in source_files()
            for line, what, value in code_literals(ast.parse(path.read_text(), str(path)))]
    assert not left, "\n".join(left)


def test_the_scan_finds_the_forms_it_forbids():
    tree = ast.parse('class E(TsunaguError):\n    code = "x.y"\n'
                     'raise E("m", code="a.b")\n'
                     'def f(code="c.d"): return {"code": "e.f"}\n'
                     'if exc.code == "g.h" or "i.j" != err.code: pass\n'
                     'raise E("m", code=str(payload.get("code", "k.l")))\n')
    assert sorted(v for _, _, v in code_literals(tree)) == \
        ["a.b", "c.d", "e.f", "g.h", "i.j", "k.l", "x.y"]


# ---------------------------------------------------------------- statuses in the API layer

def test_core_statuses_are_core_codes_and_never_400():
    for code, status in STATUSES.items():
        assert isinstance(code, TrustCode | PolicyCode | ConnectorCode), code
        assert 401 <= status <= 599 and status != 400, code
    assert all(status_for(code) == 400 for code in AuthorityCode)
    assert all(status_for(code) == 400 for code in PolicyCode)


def test_a_plugin_declares_statuses_for_its_own_codes_only():
    """Its own enum's, or those of the shared Japanese tools it raises; never a core code's
    (the core keeps its statuses) nor another hub's."""
    plugins = load_domain_plugins()
    assert "bosai" in [p.name for p in plugins]
    for plugin in plugins:
        for code, status in plugin.http_statuses.items():
            assert isinstance(code, ErrorCode), (plugin.name, code)
            owner = type(code).__module__
            assert owner.startswith((f"domains.{plugin.name}.", "domains.japanese.")), \
                f"plug-in {plugin.name} declares a status for {code} ({owner})"
            assert code not in STATUSES and 401 <= status <= 599
    statuses_with(plugins)  # they do not contradict each other


def test_statuses_with_refuses_core_codes_and_contradictions():
    core = DomainPlugin(name="bad", http_statuses={ConnectorCode.RECORD_NOT_FOUND: 410})
    with pytest.raises(PluginError) as refused:
        statuses_with([core])
    assert refused.value.code == ConnectorCode.PLUGIN_CONFLICT
    with pytest.raises(PluginError):  # a core code that is 400 is still the core's
        statuses_with([DomainPlugin(name="bad", http_statuses={TrustCode.DID_INVALID: 404})])
    one = DomainPlugin(name="one", http_statuses={JapaneseCode.DATE_INVALID: 422})
    other = DomainPlugin(name="other", http_statuses={JapaneseCode.DATE_INVALID: 409})
    assert statuses_with([one, one])[JapaneseCode.DATE_INVALID] == 422
    with pytest.raises(PluginError) as refused:
        statuses_with([one, other])
    assert refused.value.code == ConnectorCode.PLUGIN_CONFLICT
    with pytest.raises(PluginError):
        statuses_with([DomainPlugin(name="ok", http_statuses={BosaiCode.CSV_INVALID: 200})])


def test_a_relayed_code_keeps_its_code_and_is_a_relay_failure_here():
    relayed = RemoteError("refused over there", code="usage.denied")
    assert relayed.code == ConnectorCode.USAGE_DENIED and status_of(relayed) == 400
    assert status_of(RemoteUnreachable("no answer")) == 400


def test_codes_that_had_two_statuses_now_have_the_one_of_their_code():
    """Where one code had two statuses (by the class that raised it), it keeps the one its
    code's main class gave it; bosai's unavailable hub has its own code (503, not 501)."""
    assert status_of(RecordError("gone", code=ConnectorCode.RECORD_NOT_FOUND)) == 404
    assert status_of(UsageDenied("x", code=ConnectorCode.USAGE_NOT_HELD)) == 404
    assert status_of(DidError("not did:key")) == 400
    assert status_of(EnvelopeError("x", code=ConnectorCode.GRANT_MALFORMED)) == 400
    assert HubUnavailable.code == BosaiCode.HUB_UNAVAILABLE
    assert statuses_with([bosai_package.plugin])[BosaiCode.HUB_UNAVAILABLE] == 503
    assert status_for(ConnectorCode.FEATURE_UNAVAILABLE) == 501


class Raising:
    """A catalog service that raises whatever the test sets: any error through a real
    app API, its middleware and HTTP."""

    error: TsunaguError | None = None

    async def fetch(self, provider_did: str, query: str | None = None) -> dict:
        assert self.error is not None
        raise self.error


CREDENTIAL_TITLE = "A participant credential failed verification; ``code`` says why"
# (error, status, code, title) as every error class's own ``http_status`` made them.
CORE = [
    (ValidationError("bad"), 400, "input.invalid", "Invalid input"),
    (DidError("no DID"), 400, "did.invalid", "A DID is malformed or cannot be resolved"),
    (CredentialError("x", code=TrustCode.CREDENTIAL_EXPIRED), 401, "credential.expired",
     CREDENTIAL_TITLE),
    (CredentialRevoked("revoked"), 401, "credential.revoked", CREDENTIAL_TITLE),
    (CredentialStatusUnknown("stale"), 401, "credential.status_unknown", CREDENTIAL_TITLE),
    (CredentialError("x", code=TrustCode.STATUS_LIST_STALE), 401, "status_list.stale",
     CREDENTIAL_TITLE),
    (EnvelopeError("x", code=TrustCode.ENVELOPE_REPLAYED), 401, "envelope.replayed",
     "A signed envelope failed verification; ``code`` says why"),
    (UnknownTermError("x", code=PolicyCode.UNKNOWN_ACTION), 400, "policy.unknown_action",
     "A term the evaluator does not know: it must not guess, so the policy denies"),
    (SignatureError("x", code=PolicyCode.WRONG_SIGNER), 400, "policy.wrong_signer",
     "A signed offer or agreement does not verify, or an agreement widens its offer"),
    (AuthError("x", code=ConnectorCode.AUTH_EXPIRED), 401, "auth.expired", "Token expired"),
    (ScopeError("x"), 403, "auth.scope", "Insufficient scope"),
    (UsageDenied("x", code=ConnectorCode.USAGE_PURPOSE_MISSING), 403,
     "usage.purpose_missing", "Purpose not declared"),
    (UsageDenied("x", code=ConnectorCode.USAGE_OUT_OF_SCOPE), 403, "usage.out_of_scope",
     "The use was refused: ``rule`` names the rule, constraint or condition that failed"),
    (RecordNotHeld("x"), 404, "usage.not_held",
     "This connector holds no such record (audited like any refusal)"),
    (ContributionError("x", code=ConnectorCode.CONTRIBUTION_NOT_GRANTED), 403,
     "contribution.not_granted", "contribution.not_granted"),
    (ContributionConflict("x", currentVersion=3), 409, "contribution.conflict",
     "The base version is not the current one; ``current_version`` and ``changed_fields``"),
    (RecordError("x", code=ConnectorCode.RECORD_SCHEMA_INVALID), 400,
     "record.schema_invalid", "record.schema_invalid"),
    (RecordVersionConflict("x", current=2), 400, "record.version_conflict",
     "record.version_conflict"),
    (ProtocolError("x", code=ConnectorCode.DSP_UNKNOWN_PROCESS), 400, "dsp.unknown_process",
     None),
    (UnknownDatasetType("x"), 404, "plugin.unknown_dataset_type",
     "No active plug-in defines this dataset type"),
    (Unavailable("x"), 501, "feature.unavailable", "Feature not available"),
    (StoreError("x", code=ConnectorCode.STORE_VERSION), 503, "store.version", None),
    (NatsConnectError("x"), 503, "nats.connect",
     "NATS could not be reached (or refused the credentials) during start-up"),
    (RemoteError("x", code="usage.denied"), 400, "usage.denied", "Use not permitted"),
    (RemoteUnreachable("x"), 400, "remote.unreachable",
     "The other connector answered with an error; ``code`` is the one it sent"),
    (GrantRefused("x", code=AuthorityCode.GRANT_NOT_PARTY), 400, "grant.not_party", None),
    (AuthorityError("x", code=AuthorityCode.EXISTS), 400, "authority.exists", None),
]
# The bosai plug-in's codes, with the plug-in mounted (and the Japanese tools it raises).
BOSAI = [
    (RegistryInputError("x", field="name"), 422, "bosai.input_invalid",
     "An input (form, CSV row, card) is missing a field or has an unusable value"),
    (MyNumberRefused("x", field="note"), 422, "personal_number.refused", None),
    (PersonalNumberRefused("x", field="$.note"), 422, "personal_number.refused", None),
    (PersonNotFound("x"), 404, "bosai.person_not_found", None),
    (ReviewDecided("x"), 409, "bosai.review_decided",
     "The review was already decided (or made moot by another merge)"),
    (CardError("x", code=BosaiCode.CARD_EXPIRED), 401, "bosai.card_expired", None),
    (CheckInRefused("x", code=BosaiCode.SHELTER_CLOSED), 409, "bosai.shelter_closed", None),
    (NotHeld("x"), 404, "bosai.record_not_held", None),
    (HubUnavailable("x"), 503, "bosai.hub_unavailable", "Feature not available"),
    (SupplyError("x", code=BosaiCode.SUPPLY_NOT_ALLOWED), 400, "supply.not_allowed", None),
    (SourceError("x"), 400, "bosai.import.source", None),
    (FormatError("x"), 400, "bosai.import.format", None),
]


def _title(error: TsunaguError, title: str | None) -> str:
    """The title as given, else the first line of the class docstring (else the code)."""
    if title is not None:
        return title
    doc = (type(error).__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else TITLES.get(error.code, str(error.code))


async def _problems(api: Api, raising: Raising, cases: list) -> None:
    token = api.token("catalog:read")
    for error, status, code, title in cases:
        raising.error = error
        got, ctype, body = await api.call("GET", "/api/v1/catalog?provider=did:key:z6Mkx", token)
        expected = problem_body(status, code, error.message, _title(error, title))
        assert (got, ctype) == (status, "application/problem+json"), (code, body)
        assert {k: body[k] for k in ("type", "title", "status", "code", "detail")} == \
            expected, code


async def test_core_problem_statuses_are_unchanged(api_factory):  # noqa: F811
    raising = Raising()
    api = await api_factory(catalog=raising)
    await _problems(api, raising, CORE)
    raising.error = CredentialRevoked("revoked")
    async with api.http.get(api.url + "/api/v1/catalog?provider=x",
                            headers={"Authorization": f"Bearer {api.token()}"}) as resp:
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="tsunagu"'


async def test_core_routes_answer_with_their_codes_statuses(api_factory):  # noqa: F811
    api = await api_factory()
    token = api.token()
    for path, status, code in [
        ("/api/v1/held", 401, None),
        (f"/api/v1/records/{quote('urn:uuid:none', safe='')}", 404, "record.not_found"),
        ("/api/v1/negotiations/urn:uuid:none", 404, "negotiation.not_found"),
        ("/api/v1/transfers/urn:uuid:none", 404, "transfer.not_found"),
        ("/api/v1/catalog", 400, "input.invalid"),
    ]:
        got, _, body = await api.call("GET", path, None if code is None else token)
        assert (got, body["code"]) == (status, code or "auth.missing"), path
        assert body["type"] == "https://w3id.org/tsunagu/problems/" + body["code"]


async def test_a_plugins_statuses_apply_once_it_is_mounted(api_factory):  # noqa: F811
    raising = Raising()
    api = await api_factory(catalog=raising, plugins=[bosai_package.plugin])
    await _problems(api, raising, BOSAI)
    await _problems(api, raising, CORE[:4])
    # Without the plug-in, its codes are plain 400s: the core knows nothing of them.
    bare = await api_factory(catalog=raising)
    raising.error = ReviewDecided("x")
    status, _, body = await bare.call("GET", "/api/v1/catalog?provider=x", bare.token())
    assert (status, body["code"]) == (400, "bosai.review_decided")
