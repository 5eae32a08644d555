"""Fixtures for the bosai tests: a connector running the bosai hub, and its dashboard."""

from tests.domains.bosai.dashboard_support import bosai_connector, dashboard  # noqa: F401
