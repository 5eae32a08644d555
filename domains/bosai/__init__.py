"""The bosai (disaster) domain hub: shelters, the evacuee registry, check-in across shelters,
relief supplies, safety inquiries and the municipality dashboard (docs/bosai.md).

The plug-in declares the JSON-LD context https://w3id.org/tsunagu/bosai/v1, the dataset
types (shelter-status, evacuee, medical-needs, supply-requests) with their JSON schemas,
policy templates, the left operands they use, importers, routes, token scopes, the hub
service (``hub.BosaiHub``), the domain rules for contributions to its records and the content
rules for every record (``content``: no My Number in free text).
"""

from pathlib import Path

from connector.plugins.contract import Demo, DomainPlugin
from domains.bosai import checkin, vocab
from domains.bosai.api import HTTP_STATUSES
from domains.bosai.api import SCOPES as API_SCOPES
from domains.bosai.cli import register as register_cli
from domains.bosai.content import CONTENT_RULES, SUBJECTS
from domains.bosai.dashboard.auth import SCOPES as DASHBOARD_SCOPES
from domains.bosai.datasets import DATASET_TYPES
from domains.bosai.hub import BosaiHub
from domains.bosai.imports import import_shelters, import_status
from domains.bosai.policies import OPERANDS, TEMPLATES
from domains.bosai.routes import add_routes
from domains.bosai.supplies import requests as supply_requests


def _data_space_demo(directory: Path | None, people: int, serve: bool) -> int:
    from domains.bosai.demo_space import main

    return main(directory, people=people)


def _bosai_demo(directory: Path | None, people: int, serve: bool) -> int:
    from domains.bosai.demo import main

    return main(directory, people=people, serve=serve)


DEMOS = {
    "data-space": Demo("an authority, a city and a shelter NPO: agreements, transfer of "
                       "synthetic evacuees, purpose-bound use, termination, revocation",
                       _data_space_demo),
    "bosai": Demo("a city, two shelter operators and a supplies NPO: shelters, registry, "
                  "check-ins, supplies, safety inquiries, the municipality dashboard",
                  _bosai_demo, serves=True),
}

plugin = DomainPlugin(
    name="bosai",
    description="防災: shelters and evacuees",
    contexts=(vocab.CONTEXT,),
    dataset_types=DATASET_TYPES,
    policy_templates=TEMPLATES,
    left_operands=OPERANDS,
    routes=add_routes,
    importers={"shelters": import_shelters, "status": import_status},
    cli=register_cli,
    service=BosaiHub,
    scopes={**DASHBOARD_SCOPES, **API_SCOPES},
    change_rules={vocab.EVACUEE: checkin.rule, vocab.SUPPLY_REQUEST: supply_requests.rule},
    content_rules=CONTENT_RULES,
    record_subjects=SUBJECTS,
    demos=DEMOS,
    http_statuses=HTTP_STATUSES,
    roles=vocab.ROLES,
    purposes=vocab.PURPOSES,
)
