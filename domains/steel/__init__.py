"""The steel (mill sheet) domain hub.

Registers its roles and purposes, the EN 10168 inspection certificate as a dataset type
(``model``, ``certificate``: import/export of EN 10168 v0.5.0 JSON and a CSV layout, ``cli``)
and grade checks against limits as data (``grades.toml``, ``checks``); the provenance package
of a delivered piece for public-works inspections (``package``) and the supply-chain view
(``view``), both built from ``provenance.Provenance``. To come: derived certificates for
slit or cut pieces with a link to and hash of the parent, custody events, chain verification,
policy templates for the mill -> trader -> processor chain.
"""

from connector.plugins.contract import DomainPlugin
from domains.steel import vocab
from domains.steel.cli import register as register_cli
from domains.steel.model import CONTENT_RULES, DATASET_TYPES
from usage_policies.vocabularies import Term

# The parties of the mill -> trader -> processor -> customer chain.
ROLES = (
    Term("steel_mill", "鉄鋼メーカー", "steel mill"),
    Term("trader", "商社", "trader"),
    Term("processor", "加工業者", "processor"),
    Term("customer", "需要家", "customer"),
)

PURPOSES = (
    Term("supply_chain_quality", "サプライチェーンの品質保証", "supply-chain quality assurance"),
    Term("traceability", "来歴の追跡", "traceability", "supply_chain_quality"),
)

plugin = DomainPlugin(name="steel", description="鉄鋼: mill sheets", roles=ROLES,
                      purposes=PURPOSES,
                      # The certificate model, EN 10168 import/export, grade checks
                      # (issue 15 items 1, 2 and 5):
                      contexts=(vocab.CONTEXT,), dataset_types=DATASET_TYPES,
                      content_rules=CONTENT_RULES, cli=register_cli)
