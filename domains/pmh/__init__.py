"""The pmh (maternal and child health) domain hub.

Registers its roles and purposes only, so far. To come: a FHIR-shaped JSON-LD context
(Patient, RelatedPerson, Encounter, Observation, Immunization, Coverage, with kanji and kana
names apart), dataset types for pregnancy checkups and vaccinations, policy templates for
subsidy administration and 里帰り出産 claims, the routine vaccination schedule, importers and
pages.
"""

from connector.plugins.contract import DomainPlugin
from domains.pmh import vocab
from domains.pmh.cli import register as register_cli
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
)

plugin = DomainPlugin(name="pmh", description="母子保健: maternal and child health",
                      roles=ROLES, purposes=PURPOSES,
                      # The model and FHIR R4 conversion (issue 14 item 1):
                      contexts=(vocab.CONTEXT,), dataset_types=DATASET_TYPES,
                      content_rules=CONTENT_RULES, record_subjects=SUBJECTS, cli=register_cli)
