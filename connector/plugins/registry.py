"""Domain plug-ins: discovery (``tsunagu.domains`` entry point), checks, activation, routes.

Each step fails with ``PluginError`` (code ``plugin.invalid`` or
``plugin.conflict``) whose message starts with the plug-in's name:

* ``load_domain_plugins()`` imports every entry point and checks each plug-in completely
  (files readable, context hashes, JSON schemas) without registering anything.
* ``activate_plugins(plugins)`` registers left operands, purposes and roles
  (``usage_policies``), dataset types and token scopes (``connector.api.tokens``). It is
  idempotent, and all-or-nothing: every plug-in is checked before the first
  registration, and what was registered is taken back if a registration still fails, so a
  broken plug-in never leaves half of itself behind.
* ``role_vocabulary(plugins)`` is every role the core and ``plugins`` define, without
  activating anything (the authority checks the roles of a credential against it).
* ``plugin_contexts(plugins)`` makes a connector's own JSON-LD context registry: the core
  contexts and the plug-ins' (``trust.jsonld.ContextRegistry``; never process-wide).
* ``mount_plugin_routes(app, connector, plugins)`` gives each plug-in a sub-application at
  ``/domains/<name>/`` (called by ``connector.api.app.make_app``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import jsonschema
import orjson
from aiohttp import web

from connector.api import tokens
from connector.data.content_rules import ContentRules
from connector.errors import ConnectorCode
from connector.plugins.contract import ContextSpec, DatasetType, DomainPlugin, LeftOperandSpec
from connector.store.database import Store
from trust import jsonld
from trust.errors import ErrorCode, TrustCode, TsunaguError, ValidationError
from usage_policies import datatypes
from usage_policies.operands import (
    attribute_resolver,
    find_left_operand,
    register_left_operand,
    unregister_left_operand,
)
from usage_policies.vocab import is_absolute_iri
from usage_policies.vocabularies import (
    CORE_ROLES,
    PURPOSES,
    ROLES,
    Term,
    Vocabulary,
    VocabularyConflict,
)

ENTRY_POINT_GROUP = "tsunagu.domains"
ROUTE_PREFIX = "/domains/"
# Plug-in names become a URL path segment and a CLI word: keep them plain.
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_DATASET_TYPE = re.compile(r"[a-z][a-z0-9-]{0,63}")
_TOKEN = re.compile(r"[a-z][a-z0-9_]{1,39}")  # as trust.credentials checks a role's form
_SCOPE = re.compile(r"[a-z][a-z0-9_-]{0,31}:[a-z][a-z0-9_-]{0,31}")


class PluginError(TsunaguError):
    """A domain plug-in is broken or conflicts with another; the message names it."""

    code = ConnectorCode.PLUGIN_INVALID


class UnknownDatasetType(PluginError):
    """No active plug-in defines this dataset type."""

    code = ConnectorCode.PLUGIN_UNKNOWN_DATASET_TYPE


@dataclass(frozen=True)
class _Checked:
    """A plug-in that passed every check, with its schemas already parsed."""

    plugin: DomainPlugin
    schemas: dict[str, dict[str, Any]]


_lock = threading.RLock()
_active: dict[str, DomainPlugin] = {}  # plug-in name -> activated plug-in
_dataset_types: dict[str, tuple[str, DatasetType, dict[str, Any]]] = {}  # name -> owner, ...


# --------------------------------------------------------------------------- discovery

def load_domain_plugins() -> list[DomainPlugin]:
    """Every installed plug-in, checked, sorted by name; registers nothing."""
    plugins = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            plugin = ep.load()
        except Exception as exc:  # an import error inside a plug-in: name the plug-in
            raise PluginError(f"domain plug-in {ep.name!r} ({ep.value}) cannot be imported: "
                              f"{type(exc).__name__}: {exc}", plugin=ep.name) from exc
        if not isinstance(plugin, DomainPlugin):
            raise PluginError(f"domain plug-in {ep.name!r}: entry point {ep.value} does not "
                              "name a DomainPlugin", plugin=ep.name)
        if plugin.name != ep.name:
            raise PluginError(f"domain plug-in {ep.name!r}: the entry point names a plug-in "
                              f"called {plugin.name!r}", plugin=ep.name)
        check_plugin(plugin)
        plugins.append(plugin)
    return plugins


# --------------------------------------------------------------------------- checks

def _fail(plugin: DomainPlugin | str, what: str,
          code: ConnectorCode = ConnectorCode.PLUGIN_INVALID) -> PluginError:
    name = plugin if isinstance(plugin, str) else plugin.name
    return PluginError(f"domain plug-in {name!r}: {what}", code=code, plugin=name)


def check_plugin(plugin: DomainPlugin) -> dict[str, dict[str, Any]]:
    """Check everything a plug-in declares; returns its parsed schemas by dataset type."""
    if not isinstance(plugin.name, str) or not _NAME.fullmatch(plugin.name):
        raise _fail(str(plugin.name), "the name must be lowercase letters, digits, - or _ "
                    "(it becomes a URL path segment)")
    for spec in plugin.contexts:
        _check_context(plugin, spec)
    schemas = {name: _check_dataset_type(plugin, name, dt)
               for name, dt in plugin.dataset_types.items()}
    for name, template in plugin.policy_templates.items():
        if not callable(getattr(template, "build", None)):
            raise _fail(plugin, f"policy template {name!r} has no build function")
    for operand in plugin.left_operands:
        _check_operand(plugin, operand)
    _check_terms(plugin, "role", plugin.roles, ROLES)
    _check_terms(plugin, "purpose", plugin.purposes, PURPOSES)
    for term in plugin.purposes:
        if term.broader and term.broader not in PURPOSES.labels and term.broader not in {
                t.token for t in plugin.purposes}:
            raise _fail(plugin, f"purpose {term.token!r}: its broader purpose "
                        f"{term.broader!r} is not defined")
    for name, importer in plugin.importers.items():
        if not callable(importer):
            raise _fail(plugin, f"importer {name!r} is not callable")
    for scope, description in plugin.scopes.items():
        if not isinstance(scope, str) or not _SCOPE.fullmatch(scope) \
                or not scope.startswith(plugin.name + ":"):
            raise _fail(plugin, f"scope {scope!r} must be '{plugin.name}:<lowercase words>'")
        if not isinstance(description, str) or not description.strip():
            raise _fail(plugin, f"scope {scope!r} needs a description")
    for rules, what in ((plugin.change_rules, "change rule"),
                        (plugin.content_rules, "content rule"),
                        (plugin.record_subjects, "record subjects")):
        for iri, rule in rules.items():
            if not is_absolute_iri(iri) or not callable(rule):
                raise _fail(plugin, f"{what} {iri!r} must map a record type IRI to a "
                            "callable")
    for hook in ("routes", "cli", "service"):
        if getattr(plugin, hook) is not None and not callable(getattr(plugin, hook)):
            raise _fail(plugin, f"{hook} must be callable")
    return schemas


def _check_context(plugin: DomainPlugin, spec: ContextSpec) -> None:
    """The checks ContextRegistry.register makes, made before any connector serves it."""
    if not isinstance(spec, ContextSpec):
        raise _fail(plugin, f"contexts must be ContextSpec entries, got {spec!r}")
    if not isinstance(spec.sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", spec.sha256):
        raise _fail(plugin, f"context {spec.url}: sha256 must be 64 hex digits")
    try:
        raw = spec.path.read_bytes()
    except OSError as exc:
        raise _fail(plugin, f"context {spec.url}: bundled file {spec.path} cannot be read "
                    f"({exc.strerror or exc})") from exc
    actual = hashlib.sha256(raw).hexdigest()
    if actual != spec.sha256.lower():
        raise _fail(plugin, f"context {spec.url}: bundled file {spec.path.name} has SHA-256 "
                    f"{actual}, the plug-in pins {spec.sha256}; refusing a modified context")
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise _fail(plugin, f"context {spec.url}: {spec.path.name} is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("@context"), dict | list):
        raise _fail(plugin, f"context {spec.url}: {spec.path.name} has no @context")
    if spec.url in jsonld.CORE_FILES:
        raise _fail(plugin, f"context {spec.url} is a core context; a plug-in cannot serve it",
                    code=ConnectorCode.PLUGIN_CONFLICT)
    try:  # everything the processor checks at load (@import inlined, no @base), on a scratch
        jsonld.ContextRegistry.core().register(spec.url, spec.path, spec.sha256)
    except TsunaguError as exc:
        raise _fail(plugin, f"context {spec.url}: {exc.message}") from exc


def _check_dataset_type(plugin: DomainPlugin, name: str, dt: DatasetType) -> dict[str, Any]:
    if not isinstance(name, str) or not _DATASET_TYPE.fullmatch(name):
        raise _fail(plugin, f"dataset type name {name!r} must be lowercase letters, digits "
                    "and -")
    if not isinstance(dt, DatasetType):
        raise _fail(plugin, f"dataset type {name!r} is not a DatasetType")
    if not is_absolute_iri(dt.record_type):
        raise _fail(plugin, f"dataset type {name!r}: record_type must be an absolute IRI")
    if not dt.description_ja or not dt.description_en:
        raise _fail(plugin, f"dataset type {name!r} needs a description in ja and en")
    try:
        schema = json.loads(dt.schema.read_bytes())
    except OSError as exc:
        raise _fail(plugin, f"dataset type {name!r}: schema file {dt.schema} cannot be read "
                    f"({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise _fail(plugin, f"dataset type {name!r}: {dt.schema.name} is not JSON") from exc
    if not isinstance(schema, dict):
        raise _fail(plugin, f"dataset type {name!r}: the schema must be a JSON object")
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise _fail(plugin, f"dataset type {name!r}: {dt.schema.name} is not a valid JSON "
                    f"schema at {exc.json_path}: {exc.message}") from exc
    return schema


def _check_operand(plugin: DomainPlugin, spec: LeftOperandSpec) -> None:
    if not isinstance(spec, LeftOperandSpec) or not is_absolute_iri(spec.iri):
        raise _fail(plugin, f"left operand {spec!r} must be a LeftOperandSpec with an IRI")
    if spec.datatype is not None and not datatypes.is_known_datatype(spec.datatype):
        raise _fail(plugin, f"left operand {spec.iri}: unknown datatype {spec.datatype}")
    if spec.vocabulary is not None and not isinstance(spec.vocabulary, Vocabulary):
        raise _fail(plugin, f"left operand {spec.iri}: vocabulary must be a Vocabulary")
    existing = find_left_operand(spec.iri)
    if existing is not None and (existing.datatype, existing.multi) != (spec.datatype,
                                                                        spec.multi):
        raise _fail(plugin, f"left operand {spec.iri} is already registered with datatype "
                    f"{existing.datatype} (multi={existing.multi}), the plug-in declares "
                    f"{spec.datatype} (multi={spec.multi})", code=ConnectorCode.PLUGIN_CONFLICT)
    if existing is not None and existing.vocabulary is not spec.vocabulary:
        raise _fail(plugin, f"left operand {spec.iri} is already registered with another "
                    "vocabulary", code=ConnectorCode.PLUGIN_CONFLICT)


def _check_terms(plugin: DomainPlugin, what: str, terms: Any, known: Vocabulary) -> None:
    """Terms well formed, each agreeing with the one already known under its token."""
    if not isinstance(terms, tuple):
        raise _fail(plugin, f"{what} must be a tuple of Term")
    for term in terms:
        if not isinstance(term, Term) or not _TOKEN.fullmatch(str(term.token)):
            raise _fail(plugin, f"{what}: {term!r} is not a Term with a token of lowercase "
                        "letters, digits and _")
        if not term.ja or not term.en:
            raise _fail(plugin, f"{what} {term.token!r} needs a label in ja and en")
        existing = known.term(term.token)
        if existing is not None and existing != term:
            raise _fail(plugin, f"{what} {term.token!r} is already defined, with other labels "
                        "or another broader term", code=ConnectorCode.PLUGIN_CONFLICT)


def _check_against_active(checked: Sequence[_Checked]) -> None:
    """Conflicts among the plug-ins being activated, and with those already active."""
    urls: dict[str, tuple[str, ContextSpec]] = {}
    types = {name: owner for name, (owner, _, _) in _dataset_types.items()}
    operands: dict[str, tuple[str, LeftOperandSpec]] = {}
    for item in checked:
        plugin = item.plugin
        for operand in plugin.left_operands:
            first = operands.setdefault(operand.iri, (plugin.name, operand))[1]
            if (first.datatype, first.multi) != (operand.datatype, operand.multi):
                raise _fail(plugin, f"left operand {operand.iri} is also declared, with "
                            f"another datatype or multiplicity, by plug-in "
                            f"{operands[operand.iri][0]!r}", code=ConnectorCode.PLUGIN_CONFLICT)
        for spec in plugin.contexts:
            seen = urls.setdefault(spec.url, (plugin.name, spec))
            if seen[1] != spec:
                raise _fail(plugin, f"context {spec.url} is also declared, differently, by "
                            f"plug-in {seen[0]!r}", code=ConnectorCode.PLUGIN_CONFLICT)
        for name in plugin.dataset_types:
            owner = types.setdefault(name, plugin.name)
            if owner != plugin.name:
                raise _fail(plugin, f"dataset type {name!r} is already defined by plug-in "
                            f"{owner!r}", code=ConnectorCode.PLUGIN_CONFLICT)


# --------------------------------------------------------------------------- activation

def activate_plugins(plugins: Iterable[DomainPlugin]) -> None:
    """Register what ``plugins`` declare; all of them or, on any error, none of them.

    Activating an already active plug-in again is a no-op; another plug-in object under an
    active plug-in's name is a conflict.
    """
    with _lock:
        fresh: list[DomainPlugin] = []
        for plugin in plugins:
            if not isinstance(plugin, DomainPlugin):
                raise PluginError(f"not a DomainPlugin: {plugin!r}")
            active = _active.get(plugin.name)
            if active is plugin or active == plugin or plugin in fresh:
                continue
            if active is not None or any(p.name == plugin.name for p in fresh):
                raise _fail(plugin, "another plug-in with this name is already active",
                            code=ConnectorCode.PLUGIN_CONFLICT)
            fresh.append(plugin)
        checked = [_Checked(p, check_plugin(p)) for p in fresh]
        _check_against_active(checked)
        _register(checked)


def _register(checked: Sequence[_Checked]) -> None:
    """Register in a fixed order; undo this call's registrations if one still fails."""
    added_operands: list[str] = []
    added_purposes: list[str] = []
    added_roles: list[str] = []
    current: DomainPlugin | None = None
    try:
        for item in checked:
            current = item.plugin
            added_purposes += PURPOSES.register(item.plugin.purposes)
            added_roles += ROLES.register(item.plugin.roles)
            for operand in item.plugin.left_operands:
                if find_left_operand(operand.iri) is None:
                    register_left_operand(
                        operand.iri, operand.resolver or attribute_resolver(operand.iri),
                        operand.datatype, multi=operand.multi, normalize=operand.normalize,
                        label_en=operand.label_en, label_ja=operand.label_ja,
                        vocabulary=operand.vocabulary)
                    added_operands.append(operand.iri)
    except TsunaguError as exc:
        for iri in added_operands:
            unregister_left_operand(iri)
        PURPOSES.remove(added_purposes)
        ROLES.remove(added_roles)
        name = current.name if current is not None else "?"
        raise PluginError(f"domain plug-in {name!r} could not be registered: {exc.message}",
                          code=ConnectorCode.PLUGIN_CONFLICT
                          if isinstance(exc, VocabularyConflict) else
                          ConnectorCode.PLUGIN_INVALID, plugin=name) from exc
    for item in checked:
        _active[item.plugin.name] = item.plugin
        for scope, description in item.plugin.scopes.items():
            tokens.register_scope(scope, description)  # checked: own prefix, cannot clash
        for name, dt in item.plugin.dataset_types.items():
            _dataset_types[name] = (item.plugin.name, dt, item.schemas[name])


def active_plugins() -> list[DomainPlugin]:
    with _lock:
        return sorted(_active.values(), key=lambda p: p.name)


def role_vocabulary(plugins: Iterable[DomainPlugin]) -> Vocabulary:
    """Every role of the core and of ``plugins`` (a new vocabulary; nothing is activated).

    Raises ``PluginError`` when two plug-ins define one role differently."""
    roles = Vocabulary("role", None)
    roles.register(CORE_ROLES)
    for plugin in plugins:
        try:
            roles.register(plugin.roles)
        except TsunaguError as exc:
            raise _fail(plugin, exc.message, code=ConnectorCode.PLUGIN_CONFLICT) from exc
    return roles


def require_known_roles(roles: Iterable[str], plugins: Iterable[DomainPlugin], *,
                        code: ErrorCode) -> None:
    """Refuse a role that neither the core nor one of ``plugins`` defines: a misspelt role
    would be signed into a credential, and no policy would ever match it."""
    known = role_vocabulary(plugins).labels
    for role in roles:
        if role not in known:
            raise ValidationError(
                f"unknown role {role!r}: roles are those of the core and of the installed "
                f"domains ({', '.join(sorted(known))})", code=code, field="roles", role=role)


def record_subjects(plugins: Iterable[DomainPlugin]) -> dict[str, Callable[[Any], Any]]:
    """Who each record type is about, by type IRI, from ``plugins`` (the usage gate limits
    subject-scoped readers with it)."""
    found: dict[str, Callable[[Any], Any]] = {}
    for plugin in plugins:
        found.update(plugin.record_subjects)
    return found


def content_rules(plugins: Iterable[DomainPlugin], contexts: jsonld.ContextRegistry
                  ) -> ContentRules:
    """The content rules of ``plugins`` (connector.content_rules), finding a record's
    types through ``contexts``."""
    return ContentRules(((iri, rule) for plugin in plugins
                         for iri, rule in plugin.content_rules.items()), contexts)


def plugin_contexts(plugins: Iterable[DomainPlugin],
                    base: jsonld.ContextRegistry | None = None) -> jsonld.ContextRegistry:
    """A new registry with ``base``'s contexts (default: the core ones) and every context
    ``plugins`` declare, each file verified; ``base`` itself is not changed."""
    contexts = jsonld.ContextRegistry(base.files() if base is not None else jsonld.CORE_FILES)
    for plugin in plugins:
        for spec in plugin.contexts:
            try:
                # Verifies the file once more and parses it (the @import/@base checks too).
                contexts.register(spec.url, spec.path, spec.sha256)
            except TsunaguError as exc:
                raise _fail(plugin, f"context {spec.url} could not be registered: "
                            f"{exc.message}", code=ConnectorCode.PLUGIN_CONFLICT
                            if exc.code == TrustCode.JSONLD_CONTEXT_CONFLICT
                            else ConnectorCode.PLUGIN_INVALID) from exc
    return contexts


def dataset_types() -> dict[str, DatasetType]:
    """Every dataset type of the active plug-ins, by name."""
    with _lock:
        return {name: dt for name, (_, dt, _) in sorted(_dataset_types.items())}


def dataset_type(name: str) -> DatasetType:
    with _lock:
        found = _dataset_types.get(name)
    if found is None:
        raise _unknown_type(name)
    return found[1]


def dataset_schema(name: str) -> dict[str, Any]:
    """The JSON schema of dataset type ``name`` (a copy: callers may not edit ours).

    Pass it to ``DatasetService.offer_dataset(..., schema=...)`` so that every record of the
    dataset is checked against it when published.
    """
    with _lock:
        found = _dataset_types.get(name)
    if found is None:
        raise _unknown_type(name)
    return copy.deepcopy(found[2])


def _unknown_type(name: str) -> UnknownDatasetType:
    known = ", ".join(sorted(_dataset_types)) or "none: no plug-in is active"
    return UnknownDatasetType(f"unknown dataset type {name!r} (known: {known})",
                              dataset_type=name)


# --------------------------------------------------------------------------- HTTP routes

async def _list_types(request: web.Request) -> web.Response:
    plugin: DomainPlugin = request.app[PLUGIN]
    return web.json_response({"items": [
        {"name": name, "recordType": dt.record_type, "context": list(dt.record_context),
         "description": {"ja": dt.description_ja, "en": dt.description_en},
         "schema": f"{ROUTE_PREFIX}{plugin.name}/dataset-types/{name}/schema"}
        for name, dt in sorted(plugin.dataset_types.items())]})


async def _get_schema(request: web.Request) -> web.Response:
    plugin: DomainPlugin = request.app[PLUGIN]
    name = request.match_info["type"]
    if name not in plugin.dataset_types:
        raise UnknownDatasetType(f"plug-in {plugin.name!r} has no dataset type {name!r}",
                                 dataset_type=name)
    return web.json_response(dataset_schema(name),
                             content_type="application/schema+json")


PLUGIN = web.AppKey("tsunagu.plugin", DomainPlugin)


def mount_plugin_routes(app: web.Application, connector: Any,
                        plugins: Sequence[DomainPlugin]) -> None:
    """Activate ``plugins`` and mount one sub-application per plug-in at /domains/<name>/.

    Every plug-in gets ``dataset-types`` and ``dataset-types/{type}/schema`` (public, like
    openapi.json: they describe shapes, never data); its ``routes`` hook adds the rest. The
    parent's middlewares (problem+json, token scopes via ``connector.api.app.scoped``) run
    for sub-application routes too, and a plug-in cannot shadow a core route.
    """
    activate_plugins(plugins)
    for plugin in plugins:
        sub = web.Application()
        sub[PLUGIN] = plugin
        sub.router.add_get("/dataset-types", _list_types)
        sub.router.add_get("/dataset-types/{type}/schema", _get_schema)
        if plugin.routes is not None:
            try:
                plugin.routes(sub, connector, connector.plugin_services.get(plugin.name))
            except TsunaguError:
                raise
            except Exception as exc:  # a bug in the hook: say whose
                raise _fail(plugin, f"routes hook failed: {type(exc).__name__}: {exc}") from exc
        app.add_subapp(f"{ROUTE_PREFIX}{plugin.name}/", sub)


class PluginSettings:
    """A plug-in's own small settings (JSON values by key) in the connector's store
    (``plugin_settings``, one row per plug-in and key): who the participant is in the
    domain, which templates made which offers, its own tables' schema version."""

    def __init__(self, store: Store, plugin: str) -> None:
        self.store, self.plugin = store, plugin

    def get(self, key: str) -> Any:
        rows = self.store.query("SELECT value FROM plugin_settings WHERE plugin = ? AND "
                                "key = ?", (self.plugin, key))
        return orjson.loads(rows[0][0]) if rows else None

    def set(self, db: Any, key: str, value: Any) -> None:
        """Inside the caller's transaction (``store.transaction()``)."""
        db.execute("INSERT OR REPLACE INTO plugin_settings (plugin, key, value) VALUES "
                   "(?, ?, ?)", (self.plugin, key, orjson.dumps(value).decode()))
