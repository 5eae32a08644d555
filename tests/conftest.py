"""Shared pytest configuration. Fixture groups live in their own modules, loaded as plugins."""

import os

from hypothesis import settings

pytest_plugins = ["tests.nats_fixtures"]

# CI replays the same examples every run (derandomize), so a red CI always names a defect
# that reproduces; local runs explore new examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
