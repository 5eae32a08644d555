"""``tsunagu catalog participants|add|search``: a federated catalog index on this machine.

    tsunagu catalog participants --index cat.db --registry https://authority/participants \\
        --authority did:key:z6Mk...        the signed registry (URL or file), verified
    tsunagu catalog add --index cat.db catalog-a.json catalog-b.json
                                           DSP Catalog documents (as connectors answer them)
    tsunagu catalog search 避難所 --index cat.db [--purpose P --role R --area CODE] [--json]

``search`` prints a table by default (title, publisher, area, modified, what the offers
allow), ``--json`` the DSP/DCAT-shaped page (``catalog.service.page_json``). Any query text is
safe. Exit codes: 0 (also for no hits), 2 bad input (unreadable file, unverified registry, a
cursor of another query).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

from catalog.index import CursorError, Filters
from catalog.policy import Asker
from catalog.service import page_json
from connector.catalog_node.node import CatalogNode
from trust.errors import ValidationError
from trust.participant_registry import RegistryError

DEFAULT_INDEX = "catalog-index.db"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("catalog", help="federated catalog: registry, index, search")
    sub = parser.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")

    p = sub.add_parser("participants", help="load the authority's signed participant registry")
    p.add_argument("--index", default=DEFAULT_INDEX, help=f"index file ({DEFAULT_INDEX})")
    p.add_argument("--registry", required=True, help="registry URL (http/https) or JSON file")
    p.add_argument("--authority", required=True, help="the authority's DID (pinned)")
    p.set_defaults(func=_participants)

    a = sub.add_parser("add", help="index DSP Catalog documents (JSON files)")
    a.add_argument("--index", default=DEFAULT_INDEX)
    a.add_argument("files", nargs="+", type=Path)
    a.set_defaults(func=_add)

    s = sub.add_parser("search", help="search datasets (Japanese and English)")
    s.add_argument("query", nargs="?", default="", help="free text; empty: everything")
    s.add_argument("--index", default=DEFAULT_INDEX)
    s.add_argument("--purpose", help="only datasets an offer allows for this purpose")
    s.add_argument("--role", action="append", default=[], help="the asker's role (repeatable)")
    s.add_argument("--area", help="prefecture (2 digits) or municipality code (5/6 digits): "
                   "datasets covering it, and offers allowing use there")
    s.add_argument("--did", help="the asker's DID (for offers naming recipients)")
    s.add_argument("--strict", action="store_true",
                   help="only offers that permit now (no conditions at the time of use)")
    s.add_argument("--publisher", action="append", default=[])
    s.add_argument("--domain", action="append", default=[])
    s.add_argument("--type", dest="dataset_type", action="append", default=[])
    s.add_argument("--keyword", action="append", default=[])
    s.add_argument("--theme", action="append", default=[])
    s.add_argument("--from", dest="temporal_from", help="temporal coverage from (YYYY-MM-DD)")
    s.add_argument("--to", dest="temporal_to", help="temporal coverage to (YYYY-MM-DD)")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--cursor", help="the next page's cursor from a previous search")
    s.add_argument("--facets", action="store_true", help="counts per facet value")
    s.add_argument("--json", action="store_true", help="DSP/DCAT-shaped JSON")
    s.set_defaults(func=_search)


def _open(index: str) -> CatalogNode:
    return CatalogNode(index)


def _read_json(source: str | Path) -> Any:
    try:
        return json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{source}: not a readable JSON file ({exc})") from None


async def _fetch_url(url: str) -> Any:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
        if resp.status != 200:
            raise ValidationError(f"{url} answered HTTP {resp.status}")
        return await resp.json(content_type=None)


def _participants(args: argparse.Namespace) -> int:
    source = args.registry
    document = asyncio.run(_fetch_url(source)) if source.startswith(("http://", "https://")) \
        else _read_json(source)
    node = _open(args.index)
    try:
        removed = node.load_registry(document, authority=args.authority)
    except RegistryError as exc:
        print(f"tsunagu: error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        node.close()
    print(f"participants {len(node.registry.participants) if node.registry else 0}"
          + (f" (removed with their datasets: {', '.join(removed)})" if removed else ""))
    return 0


def _add(args: argparse.Namespace) -> int:
    node = _open(args.index)
    try:
        for path in args.files:
            result = node.add_catalog(_read_json(path))
            print(f"{path}: {len(result.admitted)} indexed, {len(result.dropped)} dropped")
            for d in result.dropped:
                print(f"  dropped {d.dataset or '(no id)'}: {d.reason}")
    finally:
        node.close()
    return 0


def _search(args: argparse.Namespace) -> int:
    node = _open(args.index)
    asker = None
    if args.purpose or args.role or args.area or args.did:
        asker = Asker(roles=tuple(args.role), purpose=args.purpose, area=args.area,
                      did=args.did)
    filters = Filters(publisher=tuple(args.publisher), domain=tuple(args.domain),
                      dataset_type=tuple(args.dataset_type), keyword=tuple(args.keyword),
                      theme=tuple(args.theme), area=args.area,
                      temporal_from=args.temporal_from, temporal_to=args.temporal_to)
    try:
        page = node.catalog.search(args.query, filters, asker=asker, limit=args.limit,
                                   cursor=args.cursor, facets=args.facets,
                                   include_conditional=not args.strict)
    except CursorError as exc:
        print(f"tsunagu: error: {exc}", file=sys.stderr)
        return 2
    finally:
        node.close()
    if args.json:
        print(json.dumps(page_json(page), ensure_ascii=False, indent=2))
        return 0
    print(_table(page, asker is not None))
    return 0


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cut(text: str, width: int) -> str:
    out, used = [], 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width - (1 if len(out) < len(text) else 0):
            out.append("…")
            used += 1
            break
        out.append(ch)
        used += w
    s = "".join(out)
    return s + " " * max(0, width - _width(s))


def _table(page: Any, policy: bool) -> str:
    cols = [("タイトル title", 34), ("提供者 publisher", 20), ("地域 area", 10),
            ("更新 modified", 13), ("利用条件 offers", 28)]
    lines = ["  ".join(_cut(name, w) for name, w in cols)]
    for hit in page.hits:
        d = hit.dataset
        if policy:
            outcomes = [o.get("decision", {}).get("outcome", "") for o in hit.offers]
            best = "permit" if "permit" in outcomes else (
                "conditional" if "conditional" in outcomes else "deny")
            label = {"permit": "利用可 permitted", "conditional": "条件付き conditional",
                     "deny": "不可 denied"}[best]
        else:
            label = f"{len(hit.offers)} offer(s)"
        row = [d.title, hit.publisher.get("name") or d.provider, ",".join(d.spatial) or "-",
               (d.modified or "-")[:10], label]
        lines.append("  ".join(_cut(str(v), w) for v, (_, w) in zip(row, cols, strict=True)))
        if policy:
            for offer in hit.offers:
                decision = offer.get("decision", {})
                for c in decision.get("conditions", []):
                    lines.append(f"    条件 condition: {c['ja']} / {c['en']}")
    lines.append(f"{page.total} 件 datasets" + (f"  next: --cursor {page.next_cursor}"
                                               if page.next_cursor else ""))
    if page.facets:
        for name, values in sorted(page.facets.items()):
            top = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
            lines.append(f"  {name}: " + ", ".join(f"{v} ({n})" for v, n in top))
    return "\n".join(lines)


__all__ = ["register"]
