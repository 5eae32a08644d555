"""A test that cannot set up what it needs skips on a developer's machine and fails in CI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ci import skip_or_fail


def outcome(reason: str) -> tuple[str, str]:
    """What ``skip_or_fail`` did, caught here: a test that lets a skip escape is reported as
    skipped, not failed, so a helper that wrongly skipped in CI would go unnoticed."""
    try:
        skip_or_fail(reason)
    except pytest.skip.Exception as exc:
        return "skip", str(exc)
    except pytest.fail.Exception as exc:
        return "fail", str(exc)
    raise AssertionError("skip_or_fail returned")


@pytest.mark.parametrize("value", [None, ""])
def test_without_ci_it_skips(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert outcome("no tmpfs here") == ("skip", "no tmpfs here")


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_in_ci_it_fails_naming_the_reason(monkeypatch, value):
    # Any non-empty CI counts, as in tests/conftest.py.
    monkeypatch.setenv("CI", value)
    assert outcome("no tmpfs here") == ("fail", "cannot set up this test in CI: no tmpfs here")


# A path to the sibling folder ../shared: "shared/specs", "../shared", or a join ... / "shared".
OUTSIDE = re.compile(r"""shared/specs|\.\./shared|/\s*["']shared["'/]""")


def test_no_test_reads_outside_the_repository():
    """Tests use the copies in tests/vectors, never ../shared (absent on a fresh clone)."""
    tests = Path(__file__).resolve().parent
    offenders = [p.relative_to(tests).as_posix() for p in tests.rglob("*.py")
                 if p.name != Path(__file__).name
                 and OUTSIDE.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


@pytest.mark.parametrize("line", [
    'upstream = Path(__file__).resolve().parents[3] / "shared/specs/dsp-2025-1"',
    'upstream = ROOT.parent / "shared" / "specs"',
    'open("../shared/specs/README.md")',
])
def test_the_outside_pattern_finds_a_path_to_shared(line):
    assert OUTSIDE.search(line)


@pytest.mark.parametrize("line", ['f"shared:{host.did}"', "the shared wildcard exports",
                                  'iri = "https://example.test/ns#shared"'])
def test_the_outside_pattern_leaves_the_word_shared_alone(line):
    assert not OUTSIDE.search(line)
