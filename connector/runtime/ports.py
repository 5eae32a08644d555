"""Local TCP ports: binding one with a one-line error when it is taken, and picking a free one.

A connector binds its app API port before it opens its store or NATS, so a port another
program holds (two connectors on one machine both asking for 8480) stops it at once with one
line naming the port and the setting to change, not with a traceback after everything
started. The socket bound here is the one the API then serves on: nothing can take the port
between the check and the use. ``tsunagu authority serve`` checks its NATS port the same way.

``connector init`` chooses the API port from 8480 up. Several participants often run on one
machine (a tutorial, a municipality running a connector per department), each initialised
before any of them runs, so "free" means both not bound now and not already promised to a
participant beside the new one (a sibling directory's participant.toml): otherwise two
connectors initialised in a row would both get the first free port and the second would
fail at start.
"""

from __future__ import annotations

import errno
import random
import re
import socket
from pathlib import Path

from connector.errors import ConnectorCode
from trust.errors import ConfigError, TsunaguError

# Ports are picked here (``connector init``'s API port, ``authority serve``'s first NATS
# port): below the ephemeral ranges operating systems hand out for outgoing connections
# (Linux 32768+, Windows and macOS 49152+), so a port chosen now and kept in a config file
# is not taken by some client's connection later.
PICK_RANGE = range(20000, 30000)
DEFAULT_API_PORT = 8480
_API_SEARCH = range(DEFAULT_API_PORT, DEFAULT_API_PORT + 500)
_PORT_LINE = re.compile(r"^\s*port\s*=\s*([0-9]+)\s*$", re.MULTILINE)
_PICK_TRIES = 50
API_PORT_FIX = ("set another port under [api] in participant.toml (port = 0: any free one), "
                "or give `tsunagu connector init --api-port N` when creating a participant")


class PortInUse(TsunaguError):
    """A port this program must listen on is taken by another program."""

    code = ConnectorCode.PORT_IN_USE


def bind_port(host: str, port: int, *, what: str, fix: str) -> socket.SocketType:
    """A socket bound to ``host:port`` (port 0: any free one), ready to listen on.

    Raises ``PortInUse`` "<what> port <port> on <host> is already in use; <fix>"."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"{what} host {host!r} cannot be resolved: {exc.strerror}") from None
    family, _, _, _, address = info[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As aiohttp and nats-server do: a port a stopped process left in TIME_WAIT can be
        # bound again at once, a port some program listens on cannot.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"{what} port {port} on {host} is already in use (by another "
                            f"program); {fix}", port=port) from None
        raise ConfigError(f"cannot listen on {host}:{port} for the {what}: "
                          f"{exc.strerror}") from None
    return sock


def bind_api_socket(host: str, port: int) -> socket.SocketType:
    """The app API's socket; a taken port names the ``[api] port`` setting."""
    return bind_port(host, port, what="app API", fix=API_PORT_FIX)


def pick_free_port(host: str = "127.0.0.1") -> int:
    """A port in ``PICK_RANGE`` that is free on ``host`` now (random, so two participants
    created one after the other do not both get the same one)."""
    for port in random.sample(PICK_RANGE, _PICK_TRIES):
        if bindable(port, host):
            return port
    raise PortInUse(f"no free port found on {host} in {PICK_RANGE.start}-"
                    f"{PICK_RANGE.stop - 1}; choose one")


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    try:
        bind_port(host, port, what="", fix="").close()
    except PortInUse:
        return False
    return True


def promised_ports(directory: Path, config_name: str) -> set[int]:
    """API ports already written into participant configs beside ``directory``."""
    ports: set[int] = set()
    parent = directory.resolve().parent
    if not parent.is_dir():
        return ports
    for config in parent.glob(f"*/{config_name}"):
        try:
            text = config.read_text(encoding="utf-8")
        except OSError:
            continue
        api = text.split("[api]", 1)
        if len(api) == 2 and (found := _PORT_LINE.search(api[1])):
            ports.add(int(found.group(1)))
    return ports


def choose_api_port(directory: Path, config_name: str) -> int:
    """The first port from 8480 up that is bindable on loopback and promised to no sibling."""
    taken = promised_ports(directory, config_name)
    for port in _API_SEARCH:
        if port not in taken and bindable(port):
            return port
    raise PortInUse(f"no free port in {_API_SEARCH.start}-{_API_SEARCH.stop - 1}; "
                    "pass --api-port N")
