"""The bosai (disaster) domain hub: shelter status and evacuee registration.

This first version declares the JSON-LD context https://w3id.org/tsunagu/bosai/v1, the
dataset types ``shelter-status`` and ``evacuee`` with their JSON schemas, two policy
templates and a page. Still to come: importers for the GSI and 自治体標準オープンデータセット
shelter CSVs, the designated-site master, check-in contributions, relief supplies.
"""

from domains.bosai import vocab
from domains.bosai.cli import register as register_cli
from domains.bosai.dashboard.auth import SCOPES as DASHBOARD_SCOPES
from domains.bosai.datasets import DATASET_TYPES
from domains.bosai.hub import BosaiHub
from domains.bosai.imports import import_shelters, import_status
from domains.bosai.policies import ROLE_OPERAND, TEMPLATES
from domains.bosai.routes import add_routes
from domains.plugin import DomainPlugin

plugin = DomainPlugin(
    name="bosai",
    description="防災: shelters and evacuees",
    contexts=(vocab.CONTEXT,),
    dataset_types=DATASET_TYPES,
    policy_templates=TEMPLATES,
    left_operands=(ROLE_OPERAND,),
    routes=add_routes,
    importers={"shelters": import_shelters, "status": import_status},
    cli=register_cli,
    service=BosaiHub,
    scopes=DASHBOARD_SCOPES,
)
