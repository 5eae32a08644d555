"""nats-server configuration files for the data space past one machine (pure: text in, text out).

Three shapes besides the single server ``tsunagu authority serve`` runs itself:

- **cluster**: N servers (3 or 5) joined by routes under one cluster name, JetStream on each
  (streams made with ``num_replicas=3`` keep a copy on three servers and survive one lost
  server). Operator mode on every node: the same operator JWT, system account and account
  preload, and a *full* resolver with its own directory on each node. NATS synchronises full
  resolvers of a cluster through the system account, so an account JWT the authority pushes
  to any node reaches every node (NATS docs, "Account lookup using Resolver").
- **hub**: the prefecture's server (or cluster) accepting leaf-node connections, with its own
  JetStream domain.
- **leaf**: a municipality's server joined to the hub, with its own JetStream domain: its
  connectors publish into streams on the leaf, which keep working while the uplink is down.
  Two remotes go over the uplink: the system account (so account JWT updates, revocations
  included, reach the leaf's resolver) and the municipality's own account (so the hub can
  reach the leaf's JetStream as ``$JS.<leaf domain>.API`` and mirror its streams; the mirror
  catches up from where it stopped after an outage). Each remote logs in with a ``.creds``
  file written beside the config (0600).

Secrets never go into a config file: the JetStream encryption key is read from the
environment (``key: $TSUNAGU_JETSTREAM_KEY``, the same variable the embedded server uses),
and ``.creds`` files are referenced by path. ``authority.nats_deploy`` writes these texts to
files with the right modes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from trust.errors import ValidationError

JETSTREAM_KEY_ENV = "TSUNAGU_JETSTREAM_KEY"  # as connector.bus.server passes it to its child
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # server, cluster and domain names


def conf_str(value: str) -> str:
    """A NATS config string: a JSON string literal is one (quotes paths and URLs safely)."""
    return json.dumps(value)


def check_name(value: str, what: str) -> str:
    """Server, cluster and JetStream domain names: letters, digits, '_' and '-' (a domain is
    also a subject token in ``$JS.<domain>.API``)."""
    if not _NAME.fullmatch(value):
        raise ValidationError(f"{what} {value!r} must be 1-64 letters, digits, '_' or '-'",
                              field=what)
    return value


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Node:
    """Where one server listens. ``host`` is also the address the others use to reach it."""

    name: str
    host: str
    client_port: int
    monitor_port: int
    store_dir: str
    cluster_port: int | None = None
    leafnode_port: int | None = None

    @property
    def route_url(self) -> str:
        assert self.cluster_port is not None
        return f"nats-route://{_host_port(self.host, self.cluster_port)}"

    @property
    def client_url(self) -> str:
        return f"nats://{_host_port(self.host, self.client_port)}"


def _jetstream(node: Node, *, domain: str | None, encrypted: bool) -> list[str]:
    lines = ["jetstream {", f"  store_dir: {conf_str(node.store_dir)}"]  # server adds /jetstream
    if domain is not None:
        lines.append(f"  domain: {conf_str(domain)}")
    if encrypted:  # ChaCha20-Poly1305 at rest; the key comes from the environment
        lines += ["  cipher: chachapoly", f"  key: ${JETSTREAM_KEY_ENV}"]
    return [*lines, "}"]


def _resolver(node: Node, operator: str) -> list[str]:
    """Operator mode: the authority's operator, system account and account preload
    (``operator`` text from ``NatsAccountManager.operator_config``), and a full resolver in
    this node's own directory (nats-server refuses two servers sharing one)."""
    return [operator.rstrip("\n"), "resolver: {", "  type: full",
            f"  dir: {conf_str(node.store_dir + '/jwt')}", "  allow_delete: false",
            '  interval: "2m"', "}"]


def _head(node: Node, title: str) -> list[str]:
    return [f"# {title}", "# Written by `tsunagu authority nats-config`; start with",
            f"#   nats-server -c {node.name}.conf",
            "# after loading the environment file (TSUNAGU_JETSTREAM_KEY) if it is encrypted.",
            f"server_name: {conf_str(node.name)}",
            f"listen: {conf_str(_host_port(node.host, node.client_port))}",
            f"http: {conf_str(_host_port(node.host, node.monitor_port))}",
            "max_payload: 1048576",
            # a killed node's client connections move to the others within seconds
            "ping_interval: \"10s\"", "ping_max: 3"]


def cluster_configs(nodes: Sequence[Node], operator: str, *, cluster: str,
                    domain: str | None = None, encrypted: bool = False) -> dict[str, str]:
    """One config per node of a cluster, by file name (``<node name>.conf``)."""
    check_name(cluster, "cluster")
    if len(nodes) < 3 or len(nodes) % 2 == 0:
        raise ValidationError("a JetStream cluster needs an odd number of nodes, at least 3 "
                              "(R3 streams keep a quorum with one node down)", field="nodes")
    names = [check_name(n.name, "node") for n in nodes]
    if len(set(names)) != len(names):
        raise ValidationError("node names must differ", field="nodes")
    out = {}
    for node in nodes:
        if node.cluster_port is None:
            raise ValidationError(f"node {node.name} has no cluster port", field="nodes")
        lines = _head(node, f"node {node.name} of the tsunagu cluster {cluster}")
        lines += _jetstream(node, domain=domain, encrypted=encrypted)
        lines += ["cluster {", f"  name: {conf_str(cluster)}",
                  f"  listen: {conf_str(_host_port(node.host, node.cluster_port))}",
                  "  routes: ["]
        lines += [f"    {conf_str(other.route_url)}" for other in nodes if other is not node]
        lines += ["  ]", "}"]
        if node.leafnode_port is not None:
            lines += _leafnodes_listen(node)
        lines += _resolver(node, operator)
        out[f"{node.name}.conf"] = "\n".join(lines) + "\n"
    return out


def _leafnodes_listen(node: Node) -> list[str]:
    assert node.leafnode_port is not None
    # Leaf nodes log in with account credentials (operator mode): no authorization block.
    # no_advertise: leaves use the hub URLs they were given (a hub's own address is often
    # not reachable from a municipality: NAT, a relay, a VPN endpoint).
    return ["leafnodes {", f"  listen: {conf_str(_host_port(node.host, node.leafnode_port))}",
            "  no_advertise: true", "}"]


def hub_config(node: Node, operator: str, *, domain: str, encrypted: bool = False) -> str:
    """The hub: a single server with its JetStream domain, accepting leaf nodes."""
    check_name(domain, "domain")
    if node.leafnode_port is None:
        raise ValidationError("the hub needs a leaf-node port", field="leafnode_port")
    lines = _head(node, f"hub {node.name} (JetStream domain {domain})")
    lines += _jetstream(node, domain=domain, encrypted=encrypted)
    lines += _leafnodes_listen(node)
    lines += _resolver(node, operator)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Remote:
    """One leaf-node uplink: the hub URLs (``nats-leaf://host:port``), the local account it
    binds (an account public key) and the ``.creds`` file it logs in with."""

    urls: tuple[str, ...]
    account: str
    credentials: str


def leaf_config(node: Node, operator: str, *, domain: str, remotes: Sequence[Remote],
                encrypted: bool = False) -> str:
    """A leaf: its own JetStream domain (streams stay local, reachable from the hub as
    ``$JS.<domain>.API``) and one remote per account that crosses the uplink."""
    check_name(domain, "domain")
    if not remotes:
        raise ValidationError("a leaf node needs at least one remote", field="remotes")
    lines = _head(node, f"leaf {node.name} (JetStream domain {domain})")
    lines += _jetstream(node, domain=domain, encrypted=encrypted)
    lines += ["leafnodes {", "  reconnect: \"1s\"", "  remotes: ["]
    for remote in remotes:
        urls = ", ".join(conf_str(u) for u in remote.urls)
        lines += ["    {", f"      urls: [{urls}]", f"      account: {conf_str(remote.account)}",
                  f"      credentials: {conf_str(remote.credentials)}", "    }"]
    lines += ["  ]", "}"]
    lines += _resolver(node, operator)
    return "\n".join(lines) + "\n"
