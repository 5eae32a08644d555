"""Fixtures for the bosai tests: a connector running the bosai hub, and its dashboard;
bosai participants on the data space's NATS for the cross-connector flows."""

from tests.domains.bosai.dashboard_support import bosai_connector, dashboard  # noqa: F401
from tests.domains.bosai.flows.support import start_bosai  # noqa: F401
