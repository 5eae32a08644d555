"""The pmh (maternal and child health) domain hub (docs/pmh.md).

The plug-in declares its roles and purposes, the FHIR-shaped JSON-LD context and dataset
types with their JSON schemas and content rules (``model``, FHIR R4 conversion in ``fhir``),
the routine vaccination schedule (``schedule``), and the hub (``hub``): a municipality's
service holding mothers, children and vouchers, receiving clinics' checkups and
vaccinations as signed contributions checked by its change rules (vouchers used once, the
schedule, 里帰り claims, EPDS follow-ups), its policy templates, routes and token scopes.
"""

from pathlib import Path

from connector.plugins.contract import Demo, DomainPlugin
from domains.pmh import vocab
from domains.pmh.cli import register as register_cli
from domains.pmh.hub import api as hub_api
from domains.pmh.hub import policies as hub_policies
from domains.pmh.hub.rules import RULES
from domains.pmh.hub.service import PmhHub
from domains.pmh.model.content import CONTENT_RULES, SUBJECTS
from domains.pmh.model.datasets import DATASET_TYPES
from usage_policies.vocabularies import Term

# The core has municipality and medical_institution; pmh adds the health department.
ROLES = (
    # A municipality's health department (保健所・保健福祉部局) as its own participant: same
    # legal id as its municipality, allowed what the municipality's other offices are not.
    Term("health_department", "保健所・保健福祉部局", "health department"),
)

PURPOSES = (
    Term("maternal_child_health", "母子保健", "maternal and child health"),
    Term("vaccination", "予防接種", "vaccination", "maternal_child_health"),
    Term("health_checkup", "健康診査", "health checkups", "maternal_child_health"),
    Term("subsidy_administration", "助成・給付事務", "subsidy administration"),
    # bosai's term, declared alike (hub/policies.py): the care flags' purpose.
    Term("disaster_response", "災害対応", "disaster response"),
)



def _pmh_demo(directory: Path | None, people: int, serve: bool) -> int:
    from domains.pmh.demo.scenario import main

    return main(directory, people=people, serve=serve)


DEMOS = {
    "pmh": Demo("a municipality's health department, a Tokyo and a Sapporo clinic, a family "
                "app: checkups by voucher, 里帰り claims, EPDS follow-ups, vaccinations over "
                "simulated months", _pmh_demo, serves=True),
}

plugin = DomainPlugin(name="pmh", description="母子保健: maternal and child health",
                      roles=ROLES, purposes=PURPOSES,
                      # The model and FHIR R4 conversion (issue 14 item 1):
                      contexts=(vocab.CONTEXT,), dataset_types=DATASET_TYPES,
                      content_rules=CONTENT_RULES, record_subjects=SUBJECTS, cli=register_cli,
                      # The hub (issue 14 items 2 and 4):
                      service=PmhHub, change_rules=RULES, routes=hub_api.add_routes,
                      scopes=hub_api.SCOPES, http_statuses=hub_api.HTTP_STATUSES,
                      policy_templates=hub_policies.TEMPLATES,
                      left_operands=hub_policies.OPERANDS, demos=DEMOS)
