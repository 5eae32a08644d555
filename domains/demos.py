"""What the domains' ``tsunagu demo`` scenarios share: a participant onboarded by the data
space's authority (key, credential, NATS user on the authority's operator-mode nats-server)
and its connector started with every installed plug-in."""

from __future__ import annotations

from pathlib import Path

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
