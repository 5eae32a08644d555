"""The pmh (maternal and child health) domain hub.

Registers nothing yet. To come: a FHIR-shaped JSON-LD context (Patient, RelatedPerson,
Encounter, Observation, Immunization, Coverage, with kanji and kana names apart), dataset
types for pregnancy checkups and vaccinations, policy templates for subsidy administration
and 里帰り出産 claims, the routine vaccination schedule, importers and pages.
"""

from connector.plugins.contract import DomainPlugin

plugin = DomainPlugin(name="pmh", description="母子保健: maternal and child health")
