"""Choosing a connector's app API port at ``connector init``.

Several participants often run on one machine (a tutorial, a municipality running a
connector per department), each initialised before any of them runs. So "free" means both
not bound now and not already promised to a participant beside the new one (a sibling
directory's participant.toml): otherwise two connectors initialised in a row would both get
the first free port and the second would fail at start.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

from trust.errors import ConfigError

DEFAULT_API_PORT = 8480
_SEARCH = range(DEFAULT_API_PORT, DEFAULT_API_PORT + 500)
_PORT_LINE = re.compile(r"^\s*port\s*=\s*([0-9]+)\s*$", re.MULTILINE)


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
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
    for port in _SEARCH:
        if port not in taken and bindable(port):
            return port
    raise ConfigError(f"no free port in {_SEARCH.start}-{_SEARCH.stop - 1}; pass --api-port")
