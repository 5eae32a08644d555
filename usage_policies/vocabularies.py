"""Controlled vocabularies with labels: purposes and participant roles, and the vocabularies
domains bring (bosai's disaster phases).

The core holds only terms more than one domain needs (generic purposes such as research,
generic roles such as municipality). A domain plug-in declares its own terms in the plug-in
contract (``DomainPlugin.purposes``, ``DomainPlugin.roles``, a ``LeftOperandSpec`` with its
own ``Vocabulary``), and the connector registers them when it activates the plug-in, so
adding a domain never means editing this file.

Decision: purpose values are IRIs in the tsunagu namespace (``tsunagu:disaster_response``).
A bare token that names a vocabulary entry (``disaster_response``) is accepted everywhere and
normalised to that IRI, so ``purpose eq "disaster_response"`` in a policy and
``tsunagu:disaster_response`` in a request compare equal. Other strings stay plain strings.
Roles are plain tokens (``shelter_operator``), as credentials carry them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from usage_policies.datatypes import Iri
from usage_policies.errors import PolicyCode, UnknownTermError
from usage_policies.vocab import TSUNAGU, expand_name


@dataclass(frozen=True)
class Term:
    """One vocabulary entry: its token, Japanese and English labels, and optionally the
    broader entry it is a kind of (``shelter_operation`` is a kind of ``disaster_response``)."""

    token: str
    ja: str
    en: str
    broader: str | None = None


class VocabularyConflict(UnknownTermError):
    """A term is registered again with other labels or another broader term."""

    code = PolicyCode.VOCABULARY_CONFLICT


@dataclass
class Vocabulary:
    """Terms by token. ``namespace`` None: values are the tokens themselves (roles);
    otherwise a token stands for the IRI ``namespace + token``."""

    name: str
    namespace: str | None
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (ja, en)
    broader: dict[str, str] = field(default_factory=dict)  # token -> broader token
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, token: str, ja: str, en: str, broader: str | None = None) -> None:
        self.register([Term(token, ja, en, broader)])

    def register(self, terms: Iterable[Term]) -> list[str]:
        """Add ``terms``; the same term again is a no-op, another meaning for a token a
        ``VocabularyConflict`` (and then nothing is added). Returns the tokens added."""
        terms = list(terms)
        with self._lock:
            for term in terms:
                if term.token in self.labels and self.term(term.token) != term:
                    raise VocabularyConflict(
                        f"{self.name} {term.token!r} is already registered with other labels "
                        "or another broader term", term=term.token)
            added = []
            for term in terms:
                if term.token not in self.labels:
                    added.append(term.token)
                self.labels[term.token] = (term.ja, term.en)
                if term.broader:
                    self.broader[term.token] = term.broader
            return added

    def remove(self, tokens: Iterable[str]) -> None:
        """Take tokens back (a plug-in activation that failed half-way)."""
        with self._lock:
            for token in tokens:
                self.labels.pop(token, None)
                self.broader.pop(token, None)

    def term(self, token: str) -> Term | None:
        if token not in self.labels:
            return None
        ja, en = self.labels[token]
        return Term(token, ja, en, self.broader.get(token))

    def terms(self) -> list[Term]:
        return [Term(t, ja, en, self.broader.get(t)) for t, (ja, en) in self.labels.items()]

    def iri(self, token: str) -> Iri:
        if self.namespace is None:
            raise ValueError(f"the {self.name} vocabulary has plain tokens, not IRIs")
        return Iri(self.namespace + token)

    def token(self, value: str) -> str | None:
        if self.namespace is not None:
            value = expand_name(value)  # "tsunagu:research" written as a plain string
            if value.startswith(self.namespace) and value[len(self.namespace):] in self.labels:
                return value[len(self.namespace):]
        return value if value in self.labels else None

    def normalize(self, value: Any) -> Any:
        if isinstance(value, str) and self.namespace is not None:
            token = self.token(value)
            if token is not None:
                return self.iri(token)
        return value

    def is_a(self, instance: Any, cls: Any) -> bool:
        """True when ``cls`` is a broader entry of ``instance`` (transitively)."""
        a, b = self.token(str(instance)), self.token(str(cls))
        seen: set[str] = set()
        while a is not None and a not in seen:
            if a == b:
                return True
            seen.add(a)
            a = self.broader.get(a)
        return False

    def label(self, value: str, lang: str = "en") -> str:
        token = self.token(value)
        if token is None:
            return value
        ja, en = self.labels[token]
        return ja if lang == "ja" else en


# Purposes more than one domain uses; each domain registers its own (bosai: disaster
# response and its kinds; pmh: maternal and child health; steel: supply-chain quality).
CORE_PURPOSES = (
    Term("medical_care", "医療の提供", "medical care"),
    Term("public_administration", "行政事務", "public administration"),
    Term("research", "研究", "research"),
    Term("statistics", "統計作成", "statistics", "research"),
    Term("commercial", "商用利用", "commercial use"),
)

# Roles more than one domain uses; each domain registers its own (bosai: shelter_operator,
# relief_supplier; pmh: health_department; steel: steel_mill, trader, processor, customer).
CORE_ROLES = (
    Term("municipality", "地方公共団体", "municipality"),
    Term("medical_institution", "医療機関", "medical institution"),
    Term("app_provider", "アプリ提供者", "app provider"),
    Term("resident_app", "住民向けアプリ", "resident app"),
)

PURPOSES = Vocabulary("purpose", TSUNAGU)
"""The purposes policies may name: the core ones plus those of the active domains."""
PURPOSES.register(CORE_PURPOSES)

ROLES = Vocabulary("role", None)
"""The participant roles: the core ones plus those of the active domains."""
ROLES.register(CORE_ROLES)
