"""HTML that is escaped by default: the only way the domains' pages write markup (the bosai
dashboard, the pmh views), kept here so every page escapes the same way.

Every text value (names, needs, clinic codes, reasons: all of it comes from files, forms,
records or other participants) goes through ``escape`` unless it is already ``Markup``
made by ``el``. There is no other way to put a string into a page, so a page cannot be
broken or scripted by what it shows; attribute names and tags come from code only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

VOID = frozenset({"br", "input", "link", "meta", "img", "hr"})
_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9:-]*")


class Markup(str):
    """A string that is already HTML (built here): never escaped again."""

    __slots__ = ()


Sections = dict[str, Markup]  # a page's named, separately updated parts


def escape(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


Child = Any  # str, Markup, int, None, or an iterable of those


def _children(children: Iterable[Child]) -> Iterable[Markup]:
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, str | int | float):
            yield escape(child)
        else:
            yield from _children(child)


def join(*children: Child) -> Markup:
    """Children as one piece of markup (text escaped)."""
    return Markup("".join(_children(children)))


def el(tag: str, attrs: Mapping[str, Any] | None = None, *children: Child) -> Markup:
    """``<tag attrs>children</tag>``; attributes with None or False values are left out,
    True ones written bare."""
    if not _NAME.fullmatch(tag):
        raise ValueError(f"bad tag {tag!r}")
    parts = [f"<{tag}"]
    for name, value in (attrs or {}).items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"bad attribute name {name!r}")
        if value is None or value is False:
            continue
        parts.append(f" {name}" if value is True else f' {name}="{escape(value)}"')
    parts.append(">")
    if tag in VOID:
        if children:
            raise ValueError(f"<{tag}> has no children")
        return Markup("".join(parts))
    return Markup("".join(parts) + join(*children) + f"</{tag}>")
