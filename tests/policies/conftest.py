"""Policy tests use the vocabulary the installed domain plug-ins add (bosai's
tsunagu:disasterPhase, the disaster_response purposes), as a running connector has it: activate
them here rather than rely on some earlier test in the same process having done so."""

from __future__ import annotations

import pytest

from connector.plugins.registry import activate_plugins, load_domain_plugins


@pytest.fixture(autouse=True, scope="session")
def domain_vocabulary() -> None:
    activate_plugins(load_domain_plugins())
