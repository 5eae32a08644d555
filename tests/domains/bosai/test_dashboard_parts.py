"""The dashboard's parts on their own: escaping, the incremental trend, the chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.web.markup import Markup, el, escape, join
from domains.bosai.dashboard.chart import trend_svg
from domains.bosai.dashboard.trend import StayTrend
from domains.bosai.registry import Registry
from tests.domains.bosai.dashboard_support import HOSTILE, person

T0 = datetime(2024, 4, 30, 6, 0, tzinfo=UTC)


def test_text_is_escaped_everywhere_and_markup_only_once():
    script, img, _ = HOSTILE
    built = el("td", {"title": img, "data-x": None, "hidden": True}, script, 3,
               el("b", None, "&"))
    assert built == ('<td title="&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" hidden>'
                     "&lt;script&gt;alert(1)&lt;/script&gt;3<b>&amp;</b></td>")
    assert escape(built) is built and join("<", Markup("<br>")) == "&lt;<br>"
    for bad in ('x" onclick="y', "on click"):
        with pytest.raises(ValueError):
            el("td", {bad: "1"})
    with pytest.raises(ValueError):
        el("td><script", None)


@pytest.fixture
def registry(tmp_path):
    clock = {"now": T0}
    opened = Registry.open(tmp_path / "r.sqlite", clock=lambda: clock["now"])
    opened.test_clock = clock
    yield opened
    opened.close()


def _form(n: int, stay: str, shelter: str | None = None) -> dict:
    return person("山田", f"花子{n}", ("ヤマダ", "ハナコ"), f"19{50 + n}-01-01", stay=stay,
                  shelter=shelter)


def test_the_trend_follows_check_ins_incrementally_and_equals_a_fresh_count(registry):
    trend = StayTrend(registry.store)
    a = registry.register(_form(1, "shelter", "S1"), source="t").person_id
    registry.test_clock["now"] = T0 + timedelta(minutes=30)
    b = registry.register(_form(2, "vehicle"), source="t").person_id
    assert trend.series(now=T0 + timedelta(hours=1))[-1][1] == 1
    registry.test_clock["now"] = T0 + timedelta(minutes=40)
    registry.update_stay(b, {"stayType": "shelter", "shelterId": "S2"}, by="op")
    registry.test_clock["now"] = T0 + timedelta(minutes=50)
    registry.update_stay(a, {"stayType": "shelter", "shelterId": "S2"}, by="op")  # a move
    now = T0 + timedelta(hours=1)
    assert trend.series(now=now)[-1][1] == 2
    assert trend.series("S1", now=now)[-1][1] == 0 and trend.series("S2", now=now)[-1][1] == 2
    assert max(v for _, v in trend.series("S1", now=now)) == 1
    fresh = StayTrend(registry.store)
    for shelter in (None, "S1", "S2"):
        assert fresh.series(shelter, now=now) == trend.series(shelter, now=now)
    points = trend.series(now=T0 + timedelta(days=3))
    assert len(points) <= 50 and points[0][0] == T0  # long spans use coarser buckets


def test_the_trend_starts_over_when_a_merge_rewrites_history(registry):
    trend = StayTrend(registry.store)
    first = registry.register(_form(1, "shelter", "S1"), source="t").person_id
    near = person("山田", "花子1", ("ヤマダ", "ハナコ"), "1951-01-01", stay="shelter",
                  shelter="S2", address="東京都千代田区九段南9-9-9")  # same name, elsewhere
    second = registry.register(near, source="t")
    assert second.outcome == "review"
    assert trend.series(now=T0)[-1][1] == 2
    registry.decide(second.reviews[0].review_id, "merge", by="staff")
    assert trend.series(now=T0)[-1][1] == 1 == StayTrend(registry.store).series(now=T0)[-1][1]
    assert first


def test_the_chart_says_in_words_what_it_draws():
    points = [(T0, 0), (T0 + timedelta(hours=1), 5), (T0 + timedelta(hours=2), 3)]
    svg = trend_svg(points, "ja", title="推移", chart_id="c")
    assert 'role="img"' in svg and 'aria-labelledby="c-title c-desc"' in svg
    assert "最小0人、最大5人、現在3人" in svg and "2024-04-30 15:00" in svg  # JST
    assert "style=" not in svg
    assert "まだ記録がありません" in trend_svg([], "ja", title="推移", chart_id="c")


@pytest.mark.parametrize(("counts", "ja", "en"), [
    ({"day": 2, "night": 3}, "2／3", "2／3"),
    ({"day": 0, "night": None}, "0／未報告", "0／Not reported"),
    ({"reported": 40}, "40", "40"),
    ({}, "未報告", "Not reported"),  # nothing reported is never shown as 0 or a blank
])
def test_reported_counts_show_what_was_reported_and_say_when_nothing_was(counts, ja, en):
    from domains.bosai.dashboard.queries import Shelter
    from domains.bosai.dashboard.views import reported_counts

    shelter = Shelter(id="s", name="番町小学校", open=True, types=(), capacity=40, people=0,
                      reported=counts.get("reported"), day=counts.get("day"),
                      night=counts.get("night"), needs=(), observed_at=None)
    assert (reported_counts(shelter, "ja"), reported_counts(shelter, "en")) == (ja, en)


@pytest.mark.parametrize(("text", "token"), [
    ("粉ミルク", "infant_formula"), ("ﾐﾙｸ", "infant_formula"), ("毛布", "blankets"),
    ("Drinking Water", "drinking_water"), (" 常備薬 ", "medicine"), ("おむつ", None),
    ("タオル", None), ("その他", None)])
def test_needs_name_supply_items_in_any_width_or_case_or_none(text, token):
    from domains.bosai.dashboard.i18n import need_item

    assert need_item(text) == token


def test_the_map_places_open_shelters_with_coordinates_and_names_the_others():
    from domains.bosai.dashboard.map import band, map_section, nice_distance
    from domains.bosai.dashboard.queries import Shelter

    def shelter(sid: str, people: int, capacity: int | None, at=None, open_=True) -> Shelter:
        return Shelter(id=sid, name=f"<b>{sid}</b>", open=open_, types=(), capacity=capacity,
                       people=people, reported=None, day=None, night=None, needs=(),
                       observed_at=None, lat=at and at[0], lon=at and at[1])

    shelters = [shelter("a", 10, 100, (35.68, 139.75)), shelter("b", 90, 100, (35.69, 139.76)),
                shelter("c", 5, None), shelter("d", 50, 40, (35.70, 139.77), open_=False)]
    svg = map_section(shelters, "ja", lambda sid: f"/s/{sid}")
    assert svg.count('class="point"') == 2 and 'data-shelter="d"' not in svg  # closed: not drawn
    assert "&lt;b&gt;c&lt;/b&gt;" in svg.split("</figure>")[1]  # no coordinates: named below
    assert "<b>" not in svg and 'href="/s/a"' in svg
    # 1.1 km north-south fills the 400 px of height: a quarter of the width is ~390 m
    assert ">200 m</text>" in svg and ">北</text>" in svg
    assert [band(s) for s in shelters] == ["low", "high", "unknown", "full"]
    assert [nice_distance(m) for m in (1, 7, 180, 320, 1999)] == [1, 5, 100, 200, 1000]
    assert "位置のわかる開設中の避難所はありません" in map_section(shelters[2:3], "ja", str)
