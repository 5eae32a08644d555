"""Shared pytest configuration. Fixture groups live in their own modules, loaded as plugins."""

import os

import pytest
from hypothesis import settings

from connector.plugins.registry import activate_plugins, load_domain_plugins

pytest_plugins = ["tests.nats_fixtures"]

# CI replays the same examples every run (derandomize), so a red CI always names a defect
# that reproduces; local runs explore new examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def domain_vocabulary() -> None:
    """The vocabulary the installed domain plug-ins add (bosai's tsunagu:disasterPhase, the
    disaster_response purposes...), active as in a running connector, which activates its
    plug-ins at start: a test that reads a policy or a store without starting a connector
    must not depend on some earlier test in the same process having started one (with
    pytest-xdist, a test file may be the first thing its worker runs)."""
    activate_plugins(load_domain_plugins())


# The longest test files go first, slowest group first (SIGKILL and full-disk faults,
# connector processes, clusters, demos: 10-70 s a test), so that with one pytest-xdist
# worker per core (--dist loadfile) the short files fill in around them instead of one
# worker running the long ones alone at the end. Files stay whole, each in its own order.
SLOW_FIRST = ("tests/faults/", "tests/e2e/", "tests/isolation/", "tests/scale/",
              "tests/test_bench_pipeline.py", "tests/test_demo.py", "tests/docs/",
              "tests/domains/bosai/test_registry_properties.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def slow_first(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((n for n, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)),
                    len(SLOW_FIRST))
    items.sort(key=slow_first)
