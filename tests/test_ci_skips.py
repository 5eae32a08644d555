"""A test that cannot set up what it needs skips on a developer's machine and fails in CI."""

from __future__ import annotations

import pytest

from tests.ci import skip_or_fail


def test_without_ci_it_skips(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no tmpfs here"):
        skip_or_fail("no tmpfs here")


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_in_ci_it_fails_naming_the_reason(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="cannot set up this test in CI: no tmpfs"):
        skip_or_fail("no tmpfs here")


def test_no_test_reads_outside_the_repository():
    """Tests use the copies in tests/vectors, never ../shared (absent on a fresh clone)."""
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    offenders = [p.relative_to(tests).as_posix() for p in tests.rglob("*.py")
                 if "shared/specs" in p.read_text(encoding="utf-8") and p.name != Path(
                     __file__).name]
    assert offenders == []
