"""What a test does when it cannot set up what it needs (a tmpfs, a read-only mount, an
installed entry point): on a developer's machine it may skip; in CI (``CI`` set) it fails,
naming the reason, so a missing fault never passes as a green run."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def skip_or_fail(reason: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"cannot set up this test in CI: {reason}")
    pytest.skip(reason)
