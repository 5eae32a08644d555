"""What a domain hands the connector: its contexts, schemas, templates, routes and pages.

The connector discovers plug-ins through the ``tsunagu.domains`` entry point and knows nothing
domain-specific itself. Later issues fill the fields for bosai, pmh and steel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DomainPlugin:
    name: str
    contexts: dict[str, Path] = field(default_factory=dict)  # context URL -> bundled file
    schemas: dict[str, Path] = field(default_factory=dict)  # dataset type -> JSON schema file
    policy_templates: dict[str, Callable[..., Any]] = field(default_factory=dict)
    importers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    cli: Callable[[Any], None] | None = None  # registers argparse sub-commands
