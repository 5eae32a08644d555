"""What the domains' ``tsunagu demo`` scenarios share: a participant onboarded by the data
space's authority (key, credential, NATS user on the authority's operator-mode nats-server)
and its connector started with every installed plug-in; the run from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from authority.space import AuthorityNats, save_creds
from authority.state import Authority
from connector.runtime.config import load_config
from connector.runtime.connector import Connector
from connector.runtime.setup import NATS_CREDS_NAME, init_participant
from trust.status_list import StatusListCache


async def start_participant(workdir: Path, authority: Authority, space: AuthorityNats,
                            label: str, name: str, legal_id: str, role: str, *,
                            api: bool = False) -> tuple[Connector, StatusListCache]:
    """Onboard a participant in ``workdir/label`` and start its connector; ``api`` also
    serves its app API (and plug-in pages) on 127.0.0.1, on a free port."""
    assert space.url is not None
    made = init_participant(workdir / label, name=name, legal_id=legal_id, roles=[role],
                            authority_dids=[authority.did], nats_urls=[space.url], api_port=0)
    issued = authority.issue(did=made.did, name=name, legal_id=legal_id, roles=[role])
    (workdir / label / "credential.jwt").write_text(issued.jwt)
    save_creds(workdir / label / NATS_CREDS_NAME, await space.onboard(made.did))
    status_lists = StatusListCache([authority.did])
    status_lists.add(authority.status_list_jwt())
    connector = Connector(load_config(made.config_path), api=api, status_lists=status_lists)
    await connector.start()
    return connector, status_lists


def run_main(directory: Path | None, name: str,
             run: Callable[[Path], Coroutine[Any, Any, dict[str, Any]]],
             succeeded: Callable[[dict[str, Any]], bool],
             summary_file: str = "summary.json") -> int:
    """A demo's exit code: ``run(directory)`` (a temporary directory when None) and whether
    its summary ``succeeded``; Ctrl-C while serving reads the summary the run wrote."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix=f"tsunagu-demo-{name}-")))
        directory.mkdir(parents=True, exist_ok=True)
        try:
            summary = asyncio.run(run(directory))
        except KeyboardInterrupt:  # Ctrl-C: while serving, the run itself was complete
            print("終了しました")
            written = directory / summary_file
            if not written.exists():
                return 130
            summary = json.loads(written.read_text(encoding="utf-8"))
    return 0 if succeeded(summary) else 1


async def finish(workdir: Path, summary: dict[str, Any], say: Callable[[str], None],
                 serve: bool, summary_file: str = "summary.json") -> dict[str, Any]:
    """Write the summary (what a test or script reads: never a token); with ``serve``, keep
    the connectors running until cancelled (Ctrl-C)."""
    (workdir / summary_file).write_text(json.dumps(summary, ensure_ascii=False, indent=2),
                                        encoding="utf-8")
    if serve:
        say("表示し続けます。終了するには Ctrl-C を押してください")
        await asyncio.Event().wait()
    return summary
