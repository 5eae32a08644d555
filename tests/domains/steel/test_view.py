"""The supply-chain view over HTTP (a real socket, the sample provenances): the tree of pieces
derived from a heat or a certificate with where each is now, one piece's chain and checks,
failures and flags shown, the security headers, and escaping."""

from __future__ import annotations

import dataclasses
import re
from html import unescape

import aiohttp

from domains.steel.view.tree import build_tree, finder_over
from tests.domains.steel import provenance_samples as samples


async def _get(url: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text(), dict(response.headers)


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_tree_nests_derivations_under_their_parent_and_places_every_piece():
    roots = build_tree(samples.strip_holders())
    assert [r.link.document_number for r in roots] == [samples.CERT_NUMBER]
    strips = roots[0].children
    assert [n.link.document_number for n in strips] == ["SCC-D-2026-0031"]
    assert [n.link.document_number for n in strips[0].children] == ["SCC-D-2026-0032"]
    lengths = dict(strips[0].children[0].pieces)
    assert lengths[samples.PIECE].holder_name == samples.BUILDER
    assert lengths[samples.LENGTHS[0]].holder_name == samples.COIL_CENTRE
    assert dict(strips[0].pieces)[samples.STRIPS[1]] is None  # cut further: no own chain


def test_the_finder_matches_heat_certificate_document_and_piece():
    find = finder_over(samples.strip_holders())
    assert len(find(samples.HEAT)) == len(find(samples.CERT_NUMBER)) == 9
    assert len(find("SCC-D-2026-0032")) == 6
    assert [p.piece_id for p in find(samples.PIECE)] == [samples.PIECE]
    assert find("") == [] and find("nothing") == []


async def test_a_heat_shows_the_tree_with_holders_and_states(chain_view):
    status, html, headers = await _get(chain_view.url(path=f"?q={samples.HEAT}"))
    assert status == 200
    assert "script-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert '<html lang="ja">' in html and "<script" not in html
    text = _text(html)
    assert "派生した鋼材と現在の保有者" in text
    assert f"{samples.PIECE} 現在の保有者：{samples.BUILDER} ✔ 検証済み" in text
    assert f"{samples.LENGTHS[0]} 現在の保有者：{samples.COIL_CENTRE}" in text
    assert (f"{samples.LENGTHS[-1]} 現在の保有者：{samples.BUILDER} ✖ 未検証 電子署名："
            "引渡し記録の署名が一致しません（改ざんの疑い）") in text
    assert f"{samples.STRIPS[1]} この鋼材自体の来歴はありません" in text
    assert html.count('data-piece="') == 1 + 4 + 6
    assert f'href="/domains/steel/chain/pieces/{samples.PIECE}"' in html


async def test_the_english_page_keeps_the_search_and_switches_back(chain_view):
    status, html, _ = await _get(chain_view.url(path=f"?q={samples.CERT_NUMBER}&lang=en"))
    assert status == 200 and '<html lang="en">' in html
    text = _text(html)
    assert "Derived pieces and where each is now" in text and "Now at" in text
    assert f'href="/domains/steel/chain/pieces/{samples.PIECE}?lang=en"' in html
    assert f"?q={samples.CERT_NUMBER}&amp;lang=ja" in html


async def test_a_piece_page_shows_its_chain_and_grade_checks(chain_view):
    status, html, _ = await _get(chain_view.url(path=f"pieces/{samples.PIECE}"))
    assert status == 200
    text = _text(html)
    assert "検証済み：すべての署名と連鎖を確認しました" in text
    assert html.count('data-link="') == 6
    assert "引張強さ 合格 450.0 >= 400 and <= 510 JIS G 3101 表3 (機械的性質)" in text
    status, _, _ = await _get(chain_view.url(path="pieces/NO-SUCH-PIECE"))
    assert status == 404


async def test_a_failing_link_and_a_flagged_certificate_are_shown(chain_view):
    _, html, _ = await _get(chain_view.url("failing", f"pieces/{samples.PIECE}"))
    text = _text(html)
    assert "未検証：確認できない記録があります" in text
    assert "親証明書のハッシュ：親の証明書のハッシュが一致しません（改ざんの疑い）" in text
    _, html, _ = await _get(chain_view.url("failing", f"?q={samples.HEAT}&lang=en"))
    assert "✖ NOT verified" in _text(html)
    assert "the parent certificate's hash does not match (altered?)" in _text(html)
    _, html, _ = await _get(chain_view.url("flagged", f"?q={samples.HEAT}"))
    text = _text(html)
    assert html.count('class="document flagged"') == 3
    assert "不合格・不一致の項目：引張強さ 600.0 (>= 400 and <= 510, JIS G 3101 表3 (機械的性質))" \
        in text
    _, html, _ = await _get(chain_view.url("flagged", f"pieces/{samples.PIECE}"))
    assert "規格値を満たさない項目のある証明書を含みます" in _text(html)


async def test_without_the_chain_side_the_view_says_so(chain_view):
    status, html, _ = await _get(chain_view.url("unavailable", f"?q={samples.HEAT}"))
    assert status == 503 and "来歴の検証はまだ利用できません。" in _text(html)


async def test_queries_and_names_are_escaped(chain_view):
    status, html, _ = await _get(chain_view.url(path="?q=%3Cscript%3Ealert(1)%3C/script%3E"))
    assert status == 200 and "<script>" not in html
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_hostile_names_in_a_tree_are_escaped():
    from domains.steel.view import pages

    chain = dataclasses.replace(samples.provenance(), holder_name="<b>x</b>")
    page = pages.Page("ja", "/v/", "/v/", samples.HEAT)
    html = pages.tree_page(page, build_tree([chain]))
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
