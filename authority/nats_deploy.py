"""Write the nats-server configurations of ``authority.nats_shapes`` as files an operator starts.

Everything lands in one output directory, each file created new (an existing one is an error
before anything is written) and readable by its owner only (0600): configs hold no secret but
name the account layout, ``.creds`` files and ``jetstream.env`` are secrets.

- ``<node>.conf``: one per server (``nats-server -c <node>.conf``);
- ``jetstream.env``: ``TSUNAGU_JETSTREAM_KEY=k<hex>``, the JetStream encryption key: the
  authority's at-rest sub-key (as its embedded server uses) for a cluster or hub, when the
  authority has one; a fresh key of its own for a leaf;
- leaf only: ``<leaf>.sys.creds`` and ``<leaf>.account.creds``, the two uplink logins.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from authority.nats_shapes import (
    JETSTREAM_KEY_ENV,
    Node,
    Remote,
    check_name,
    cluster_configs,
    hub_config,
    leaf_config,
)
from authority.space import AuthorityNats
from trust.errors import ValidationError

ENV_FILE = "jetstream.env"


@dataclass(frozen=True)
class NodeSpec:
    """``NAME,HOST,CLIENT_PORT,PEER_PORT,MONITOR_PORT`` from the command line (the peer port
    is the cluster port of a cluster node, the leaf-node port of a hub, unused on a leaf)."""

    name: str
    host: str
    client_port: int
    peer_port: int
    monitor_port: int

    @classmethod
    def parse(cls, text: str) -> NodeSpec:
        parts = text.split(",")
        if len(parts) != 5:
            raise ValidationError(f"node {text!r}: give NAME,HOST,CLIENT_PORT,PEER_PORT,"
                                  "MONITOR_PORT", field="node")
        name, host, *ports = (p.strip() for p in parts)
        try:
            numbers = [int(p) for p in ports]
        except ValueError:
            raise ValidationError(f"node {text!r}: ports must be numbers", field="node") from None
        client, peer, monitor = numbers
        if not (0 < client < 65536 and 0 < monitor < 65536 and 0 <= peer < 65536) or not host:
            raise ValidationError(f"node {text!r}: a host and ports 1-65535 (the peer port 0 "
                                  "on a leaf)", field="node")
        return cls(check_name(name, "node"), host, client, peer, monitor)

    def node(self, store_root: Path, *, peer: str | None) -> Node:
        if peer is not None and not self.peer_port:
            raise ValidationError(f"node {self.name} needs a {peer} port", field="node")
        return Node(self.name, self.host, self.client_port, self.monitor_port,
                    str((store_root / self.name).absolute()),
                    cluster_port=self.peer_port if peer == "cluster" else None,
                    leafnode_port=self.peer_port if peer == "leafnode" else None)


def default_nodes(shape: str, count: int = 3) -> list[NodeSpec]:
    """Loopback defaults: one machine trying a shape (real deployments name their hosts)."""
    if shape == "cluster":
        return [NodeSpec(f"n{i + 1}", "127.0.0.1", 4222 + i, 6222 + i, 8222 + i)
                for i in range(count)]
    if shape == "hub":
        return [NodeSpec("hub", "127.0.0.1", 4222, 7422, 8222)]
    return [NodeSpec("leaf", "127.0.0.1", 4232, 0, 8232)]


def _refuse_taken(out: Path, names: Sequence[str]) -> None:
    taken = [name for name in names if (out / name).exists()]
    if taken:
        raise ValidationError(f"{out} already holds {', '.join(sorted(taken))}; refusing to "
                              "overwrite (a running server's store and keys depend on them)",
                              field="out")


def _write_all(out: Path, files: dict[str, str]) -> list[Path]:
    """Create every file new, 0600; refuse (before writing any) if one exists."""
    _refuse_taken(out, list(files))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        fd = os.open(out / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        written.append(out / name)
    return written


def _key_files(nats: AuthorityNats, *, own: bool = False) -> dict[str, str]:
    """The data space's servers (cluster, hub) share the authority's JetStream key, which it
    can write again; a leaf (``own``) gets a fresh key of its own: it runs on a
    municipality's premises, and the authority's key must not leave the authority."""
    at_rest = nats.authority.at_rest
    if own:
        key = secrets.token_bytes(32)
    elif at_rest is not None:
        key = at_rest.jetstream_key
    else:
        return {}
    # nats-server parses a variable's value as config: a leading letter keeps it a string
    # (an all-digit hex would become a number and stop the server).
    return {ENV_FILE: f"{JETSTREAM_KEY_ENV}=k{key.hex()}\n"}


async def write_cluster(nats: AuthorityNats, out: Path, specs: Sequence[NodeSpec], *,
                        cluster: str, store_root: Path | None = None,
                        domain: str | None = None) -> list[Path]:
    operator = await nats.operator_config()
    keys = _key_files(nats)
    nodes = [s.node(store_root or out, peer="cluster") for s in specs]
    files = cluster_configs(nodes, operator, cluster=cluster, domain=domain,
                            encrypted=bool(keys))
    return _write_all(out, files | keys)


async def write_hub(nats: AuthorityNats, out: Path, spec: NodeSpec, *, domain: str,
                    store_root: Path | None = None) -> list[Path]:
    operator = await nats.operator_config()
    keys = _key_files(nats)
    text = hub_config(spec.node(store_root or out, peer="leafnode"), operator, domain=domain,
                      encrypted=bool(keys))
    return _write_all(out, {f"{spec.name}.conf": text} | keys)


async def write_leaf(nats: AuthorityNats, out: Path, spec: NodeSpec, *, domain: str,
                     hub_urls: Sequence[str], participant: str,
                     store_root: Path | None = None) -> list[Path]:
    """A municipality's leaf: the participant's account and the system account cross the
    uplink, each with a user minted now (``participant`` must be onboarded already)."""
    if not hub_urls or not all(u.startswith(("nats-leaf://", "tls://", "ws://", "wss://"))
                               for u in hub_urls):
        raise ValidationError("give the hub's leaf-node URLs (nats-leaf://HOST:PORT)",
                              field="hub_url")
    check_name(domain, "domain")
    out = out.absolute()
    sys_creds, account_creds = f"{spec.name}.sys.creds", f"{spec.name}.account.creds"
    _refuse_taken(out, [f"{spec.name}.conf", sys_creds, account_creds])  # before minting
    logins = await nats.leaf_logins(participant, f"leaf-{spec.name}")
    remotes = [Remote(tuple(hub_urls), logins.system_account, str(out / sys_creds)),
               Remote(tuple(hub_urls), logins.account, str(out / account_creds))]
    operator = await nats.operator_config()
    keys = _key_files(nats, own=True)
    text = leaf_config(spec.node(store_root or out, peer=None), operator, domain=domain,
                       remotes=remotes, encrypted=bool(keys))
    return _write_all(out, {f"{spec.name}.conf": text, sys_creds: logins.system_creds,
                            account_creds: logins.account_creds} | keys)
