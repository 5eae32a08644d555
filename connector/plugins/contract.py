"""What a domain hands the connector: contexts, dataset types, policy templates, routes, CLI.

The connector discovers plug-ins through the ``tsunagu.domains`` entry point
(``connector.plugins.registry``) and knows nothing domain-specific itself. Everything here
is a plain declaration: nothing is registered by constructing a ``DomainPlugin``. The
connector checks a whole plug-in first (files readable, hashes match, schemas valid) and
only then registers it, so a broken plug-in never leaves half of itself behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from usage_policies.vocabularies import Term, Vocabulary

if TYPE_CHECKING:
    from aiohttp import web

    from connector.runtime.connector import Connector
    from usage_policies.model import Policy


@dataclass(frozen=True)
class ContextSpec:
    """A JSON-LD context the domain ships: served for ``url`` from ``path`` only if the file's
    SHA-256 is ``sha256``. The hash lives in source, not computed at load, so an edited or
    swapped file is refused instead of silently changing what records mean."""

    url: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class DatasetType:
    """A kind of dataset the domain defines: records of ``record_type`` (an expanded IRI)
    written with ``record_context`` and valid against the JSON schema in ``schema``."""

    schema: Path
    record_type: str
    record_context: tuple[str, ...]
    description_ja: str
    description_en: str

    def description(self, lang: str = "ja") -> str:
        return self.description_ja if lang == "ja" else self.description_en


@dataclass(frozen=True)
class PolicyTemplate:
    """Builds an ODRL policy (``usage_policies.model.Policy``) for a common need; the
    explanation is what a person reads before agreeing, so it states every restriction."""

    build: Callable[..., Policy]
    explanation_ja: str
    explanation_en: str

    def explain(self, lang: str = "ja") -> str:
        return self.explanation_ja if lang == "ja" else self.explanation_en


@dataclass(frozen=True)
class LeftOperandSpec:
    """A left operand the domain's policies need. If it is already registered (by
    usage_policies, the connector or another domain) with the same datatype and
    multiplicity, the existing one is used; a different shape is a conflict."""

    iri: str
    datatype: str | None = None  # datatype IRI, usage_policies.datatypes.ID, or None
    multi: bool = False
    label_en: str = ""
    label_ja: str = ""
    # Default: the value comes from the request attributes or the state's operands.
    resolver: Callable[[Any], Any] | None = None
    normalize: Callable[[Any], Any] | None = None
    # The operand's closed set of values with their labels (bosai's disaster phases): a
    # world fact outside it is refused, policies and explanations use its labels.
    vocabulary: Vocabulary | None = None


ChangeRule = Callable[[Mapping[str, Any], Mapping[str, Any], Any], None]
"""``rule(before, after, contributor)``: a domain's check of a contribution to one of its
records, run by the holder after the policy allowed it and before anything is written.
``before``/``after`` are the record's fields without the holder-set ones (@context, id,
type, proof, version, modified, provenance); ``contributor`` is a
``connector.data.contributions.Contributor`` (who, with which roles, under which agreement, the
holder's connector, and the plug-in's own service). Raise a ``TsunaguError`` to refuse: the
contributor gets ``contribution.rule_violated`` with the rule's code and message (no
personal data in it)."""

ContentRule = Callable[[Mapping[str, Any]], None]
"""``rule(record)``: a domain's check of what one of its records contains, run by the
connector before anything of the record is stored, on the sending connector (before it signs
a new version) and on every receiving one (after the proof check; a refused record is
dead-lettered and its provider told). Raise a ``TsunaguError`` whose message and details name
the field's JSON path, never its value (it reaches logs, dead letters and the provider).
``connector.data.free_text.free_text(record, schema)`` gives the strings a person typed."""

RecordSubjects = Callable[[Mapping[str, Any]], Iterable[str]]
"""``subjects(record)``: the ids of the parties a record is about (a person, a mother and her
child). The usage gate shows a subject-scoped reader (an app token issued for some parties)
only the records whose subjects include one of its parties; a record of a type with no such
function is about nobody, so such a reader never sees it."""

RoutesHook = Callable[["web.Application", "Connector", Any], None]
"""``routes(sub_app, connector, service)``: adds routes to the plug-in's own sub-application
(mounted at ``/domains/<name>/``); ``service`` is the plug-in's own service (or None)."""


@dataclass(frozen=True)
class Demo:
    """A demo scenario a domain runs for ``tsunagu demo <name>``: ``run(directory, people,
    serve)`` returns the exit code (``directory`` None: a temporary one; ``serve``: keep
    its pages running until Ctrl-C)."""

    summary: str
    run: Callable[[Path | None, int, bool], int]
    serves: bool = False  # whether ``--serve`` means something for it


class PluginService(Protocol):
    """A plug-in's long-running part, made with the connector and started after the
    connector's own services (``startup``), stopped before them (``shutdown``)."""

    async def startup(self) -> None: ...
    async def shutdown(self) -> None: ...


@dataclass(frozen=True)
class DomainPlugin:
    name: str
    description: str = ""
    contexts: tuple[ContextSpec, ...] = ()
    dataset_types: Mapping[str, DatasetType] = field(default_factory=dict)
    policy_templates: Mapping[str, PolicyTemplate] = field(default_factory=dict)
    left_operands: tuple[LeftOperandSpec, ...] = ()
    importers: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    routes: RoutesHook | None = None
    cli: Callable[[Any], None] | None = None  # registers argparse sub-commands
    # App API token scopes its routes check (name -> what it allows), each named
    # "<plug-in name>:<what>"; issuable with ``tsunagu connector token`` once activated.
    scopes: Mapping[str, str] = field(default_factory=dict)
    # Makes the domain's long-running part from the connector (``PluginService``): it may
    # follow received records through the usage gate (``connector.gate.follow``), its own
    # records (``connector.record_listeners``), keep its tables (prefixed with its name) in
    # ``connector.store.database`` and its settings in ``PluginSettings``. Its routes, CLI and rules
    # get it handed to them; nothing looks it up.
    service: Callable[[Connector], PluginService] | None = None
    # Domain rules for contributions to the domain's records, by record type IRI (expanded,
    # as ``DatasetType.record_type``): see ``ChangeRule``.
    change_rules: Mapping[str, ChangeRule] = field(default_factory=dict)
    # What the domain's records may not contain (a My Number in free text), by record type
    # IRI (expanded): see ``ContentRule``.
    content_rules: Mapping[str, ContentRule] = field(default_factory=dict)
    # ``tsunagu demo <name>`` scenarios (``Demo``); names are unique across plug-ins.
    demos: Mapping[str, Demo] = field(default_factory=dict)
    # Whom the domain's records are about, by record type IRI: see ``RecordSubjects``.
    record_subjects: Mapping[str, RecordSubjects] = field(default_factory=dict)
    # The HTTP status of each of the domain's own error codes that is not 400 (members of
    # its ``trust.errors.ErrorCode`` enum, or of the shared ``domains.japanese`` tools it
    # raises): the app API answers its errors with them (``connector.api.problems``), for its
    # routes and for whatever of its rules reaches a core route. Core codes keep theirs.
    http_statuses: Mapping[str, int] = field(default_factory=dict)
    # The participant roles the domain brings (``Term("shelter_operator", "避難所運営者",
    # "shelter operator")``): the authority issues credentials only with roles of the core or
    # of a domain it has installed; policies constrain on them (``tsunagu:role``).
    roles: tuple[Term, ...] = ()
    # The purposes of use the domain brings, each maybe a kind of a broader one
    # (``Term("shelter_operation", "避難所運営", "shelter operation", "disaster_response")``):
    # registered into ``usage_policies.vocabularies.PURPOSES`` when the plug-in is activated.
    purposes: tuple[Term, ...] = ()
