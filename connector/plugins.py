"""Discovery of domain plug-ins through the ``tsunagu.domains`` entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

from domains.plugin import DomainPlugin


def load_domain_plugins() -> list[DomainPlugin]:
    plugins = []
    for ep in sorted(entry_points(group="tsunagu.domains"), key=lambda e: e.name):
        plugin = ep.load()
        if not isinstance(plugin, DomainPlugin):
            raise TypeError(f"entry point {ep.name} does not name a DomainPlugin")
        plugins.append(plugin)
    return plugins
