"""Controlled vocabularies with labels: purposes and disaster phases.

Decision: vocabulary values are IRIs in the tsunagu namespace (``tsunagu:disaster_response``).
A bare token that names a vocabulary entry (``disaster_response``) is accepted everywhere and
normalised to that IRI, so ``purpose eq "disaster_response"`` in a policy and
``tsunagu:disaster_response`` in a request compare equal. Other strings stay plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from usage_policies.datatypes import Iri
from usage_policies.vocab import TSUNAGU, expand_name


@dataclass
class Vocabulary:
    name: str
    namespace: str
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (ja, en)
    broader: dict[str, str] = field(default_factory=dict)  # token -> broader token

    def add(self, token: str, ja: str, en: str, broader: str | None = None) -> None:
        self.labels[token] = (ja, en)
        if broader:
            self.broader[token] = broader

    def iri(self, token: str) -> Iri:
        return Iri(self.namespace + token)

    def token(self, value: str) -> str | None:
        value = expand_name(value)  # "tsunagu:research" written as a plain string
        if value.startswith(self.namespace) and value[len(self.namespace):] in self.labels:
            return value[len(self.namespace):]
        return value if value in self.labels else None

    def normalize(self, value: Any) -> Any:
        if isinstance(value, str):
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


PURPOSES = Vocabulary("purpose", TSUNAGU)
for _token, _ja, _en, _broader in (
    ("disaster_response", "災害対応", "disaster response", None),
    ("evacuation_support", "避難支援", "evacuation support", "disaster_response"),
    ("safety_confirmation", "安否確認", "safety confirmation", "disaster_response"),
    ("shelter_operation", "避難所運営", "shelter operation", "disaster_response"),
    ("relief_supply", "救援物資の供給", "relief supply", "disaster_response"),
    ("rescue", "救助", "rescue", "disaster_response"),
    ("recovery_support", "生活再建支援", "recovery support", "disaster_response"),
    ("medical_care", "医療の提供", "medical care", None),
    ("maternal_child_health", "母子保健", "maternal and child health", None),
    ("vaccination", "予防接種", "vaccination", "maternal_child_health"),
    ("health_checkup", "健康診査", "health checkups", "maternal_child_health"),
    ("subsidy_administration", "助成・給付事務", "subsidy administration", None),
    ("supply_chain_quality", "サプライチェーンの品質保証", "supply-chain quality assurance",
     None),
    ("traceability", "来歴の追跡", "traceability", "supply_chain_quality"),
    ("research", "研究", "research", None),
    ("statistics", "統計作成", "statistics", "research"),
    ("public_administration", "行政事務", "public administration", None),
    ("commercial", "商用利用", "commercial use", None),
):
    PURPOSES.add(_token, _ja, _en, _broader)

# Disaster phases, matching the tsunagu-v1 JSON-LD context (tsunagu:phase_<token>), with the
# Digital Agency's names: 平時 / 切迫時 / 応急時 / 復旧・復興時.
DISASTER_PHASES = Vocabulary("disasterPhase", TSUNAGU + "phase_")
for _token, _ja, _en in (
    ("mitigation", "平時（減災・予防）", "normal times (mitigation)"),
    ("preparedness", "切迫時（警戒・備え）", "imminent danger (preparedness)"),
    ("response", "応急時", "emergency response"),
    ("recovery", "復旧・復興時", "recovery and reconstruction"),
):
    DISASTER_PHASES.add(_token, _ja, _en)
