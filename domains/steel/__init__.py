"""The steel (mill sheet) domain hub.

Registers its roles and purposes only, so far. To come: the EN 10168 inspection certificate
as a dataset type (JSON schema from ../shared/specs/en10168-v0.5.0), derived certificates for
slit or cut pieces with a link to and hash of the parent, grade checks (e.g. JIS G 3101
SS400), provenance export for public works inspections, policy templates for the mill ->
trader -> processor chain.
"""

from connector.plugins.contract import DomainPlugin
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
                      purposes=PURPOSES)
