"""The steel (mill sheet) domain hub.

Registers its roles and purposes, the EN 10168 inspection certificate as a dataset type
(``model``, ``certificate``: import/export of EN 10168 v0.5.0 JSON and a CSV layout, ``cli``)
and grade checks against limits as data (``grades.toml``, ``checks``); the provenance package
of a delivered piece for public-works inspections (``package``) and the supply-chain view
(``view``), both built from ``provenance.Provenance``.

The chain (issue 15 items 3 and 4, and the verification half of item 6): custody events
and derived certificates as records (``custody``, ``derivation``: pure rules), their
verification to a ``provenance.Provenance`` (``verify``), and the hub service
(``hub.SteelHub``) moving pieces between parties' connectors under their agreements.

On a connector (items 7 and 8): the supply-chain view at ``/domains/steel/chain/``, fed by
the participant's own hub behind ``steel:chain`` tokens and sessions (``view.mounted``), and
``tsunagu demo steel`` (``demo``: a mill, a trading house, a coil centre and a construction
company; a coil from the mill sheet to the site, and tampering caught).
"""

from pathlib import Path

from connector.plugins.contract import Demo, DomainPlugin, LeftOperandSpec
from domains.steel import vocab
from domains.steel.cli import register as register_cli
from domains.steel.hub import SteelHub
from domains.steel.model import CONTENT_RULES, DATASET_TYPES
from domains.steel.view.mounted import SCOPES
from domains.steel.view.mounted import add_routes as add_view
from usage_policies.vocab import TSUNAGU
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

# The shapes connector.agreements registers (as bosai and pmh declare them): the custody
# offers name the receiver's role and 法人番号.
OPERANDS = (
    LeftOperandSpec(TSUNAGU + "role", None, multi=True, label_en="the participant's role",
                    label_ja="参加者の役割"),
    LeftOperandSpec(TSUNAGU + "legalId", None, label_en="the participant's legal identifier",
                    label_ja="法人番号等"),
)



def _steel_demo(directory: Path | None, people: int, serve: bool) -> int:
    from domains.steel.demo.scenario import main  # imported only when run

    return main(directory, serve=serve)


DEMOS = {
    "steel": Demo("a mill, a trading house, a coil centre and a construction company: a coil "
                  "certified, sold, slit, cut, delivered, verified and exported as a "
                  "provenance package; a tampered certificate caught", _steel_demo,
                  serves=True),
}

plugin = DomainPlugin(name="steel", description="鉄鋼: mill sheets", roles=ROLES,
                      purposes=PURPOSES,
                      # The certificate model, EN 10168 import/export, grade checks
                      # (issue 15 items 1, 2 and 5):
                      contexts=(vocab.CONTEXT,), dataset_types=DATASET_TYPES,
                      content_rules=CONTENT_RULES, cli=register_cli,
                      left_operands=OPERANDS, service=SteelHub,
                      # The supply-chain view on the connector, and the demo (items 7, 8):
                      routes=add_view, scopes=SCOPES, demos=DEMOS)
