"""Participants of both domains on one data space (the domains meet only there)."""

from tests.domains.bosai.flows.support import start_bosai  # noqa: F401
from tests.domains.pmh.flows.support import start_pmh  # noqa: F401
