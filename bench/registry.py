"""Every benchmark ``python -m bench`` runs: one entry each (adding one is one entry).

An entry names its script, the argument that sets its size and the sizes of a ``quick`` and
a ``full`` run (three or more, so the plots show how cost grows), fixed arguments, and the
figures read from the script's ``--json`` output (a dotted key reaches into nested objects),
each with its floor where the issues set one. ``script=None`` marks a benchmark that is not
built yet: the runner lists it as "not built" instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    key: str  # in the script's JSON; "a.b" is result["a"]["b"]
    unit: str
    floor: float | None = None
    higher_is_better: bool = True  # True: met when value >= floor; False: value <= floor

    def met(self, value: float | None) -> bool | None:
        if self.floor is None or value is None:
            return None
        return value >= self.floor if self.higher_is_better else value <= self.floor


def lower(key: str, unit: str, floor: float | None = None) -> Figure:
    """A figure where less is better (latency, time): met when value <= floor."""
    return Figure(key, unit, floor, higher_is_better=False)


@dataclass(frozen=True)
class Bench:
    name: str
    script: str | None  # path from the repository root; None: not built yet
    size_arg: str
    quick: tuple[float, ...]
    full: tuple[float, ...]
    figures: tuple[Figure, ...]
    args: tuple[str, ...] = ()  # fixed arguments, both modes
    quick_args: tuple[str, ...] = ()
    full_args: tuple[str, ...] = ()
    baseline: str = ""  # what the same run measures to compare with
    timeout_s: float = 900.0  # per size
    about: str = field(default="", compare=False)

    def sizes(self, mode: str) -> tuple[float, ...]:
        return self.quick if mode == "quick" else self.full

    def mode_args(self, mode: str) -> tuple[str, ...]:
        return self.args + (self.quick_args if mode == "quick" else self.full_args)


BENCHMARKS: tuple[Bench, ...] = (
    Bench("stream", "bench/stream.py", "--records", (2000, 5000, 10000), (20000, 50000, 100000),
          (Figure("records_per_s", "records/s"), Figure("ratio", "x pull fetch", 0.35),
           Figure("baseline_fetch_per_s", "msgs/s"), lower("p99_ms", "ms"),
           lower("negotiation_p50_ms", "ms", 50.0)),
          args=("--negotiations", "20"), baseline="raw JetStream pull fetch, same payload",
          about="end to end, provider app -> 2 connector processes -> consumer app; "
                "negotiation to FINALIZED"),
    Bench("latency", "bench/latency.py", "--records", (1000, 2000, 5000), (10000, 20000, 50000),
          (Figure("max_records_per_s", "records/s"), lower("at_25_p99_ms", "ms"),
           lower("at_50_p50_ms", "ms"), lower("at_50_p99_ms", "ms", 100.0),
           lower("at_75_p99_ms", "ms")),
          quick_args=("--max-records", "5000"), full_args=("--max-records", "20000"),
          baseline="the closed-loop maximum, same run",
          about="open loop at 25/50/75 % of the maximum, p50/p99 app to app"),
    Bench("policy_eval", "bench/policy_eval.py", "--rounds", (2000, 10000, 50000),
          (20000, 100000, 500000),
          (lower("ten_rule_median_us", "us", 50.0), lower("baseline_one_rule_median_us", "us"),
           lower("ratio", "x 1-rule")),
          baseline="a 1-rule policy", about="one compiled 10-rule ODRL policy evaluated"),
    Bench("at_rest", "bench/at_rest.py", "--records", (1000, 3000, 10000), (5000, 20000, 100000),
          (Figure("encrypted.batch_per_s", "records/s"), Figure("plain.batch_per_s", "records/s"),
           Figure("ratio_encrypted_to_plain.batch_per_s", "x plain"),
           Figure("ratio_encrypted_to_plain.commit_each_per_s", "x plain")),
          baseline="the same store in plain SQLite", about="SQLCipher store against plain"),
    Bench("bosai", "bench/bosai.py", "--evacuees", (1000, 3000, 10000), (10000, 25000, 50000),
          (lower("dedupe_s", "s", 10.0), lower("first_load_ms", "ms", 1000.0),
           lower("checkin_to_dashboard_p99_ms", "ms", 200.0)),
          args=("--shelters", "100"), quick_args=("--checkins", "40"),
          about="bosai hub: dedupe, dashboard first load, check-in -> dashboard"),
    Bench("pmh_schedule", "bench/pmh.py", "--children", (5000, 20000, 50000),
          (25000, 50000, 100000),
          (Figure("schedule_children_per_s", "children/s", 20000.0),
           Figure("schedule_children_per_cpu_s", "children/CPU s"),
           Figure("schedule_children_per_s_uncached", "children/s")),
          args=("--sections", "schedule"), baseline="the schedule without its cache",
          about="routine vaccination schedule evaluation"),
    Bench("pmh_view", "bench/pmh.py", "--view-children", (1000, 3000, 6000),
          (10000, 30000, 60000),
          (lower("view_first_load_ms", "ms", 1000.0), lower("view_reload_p50_ms", "ms"),
           lower("view_publish_s", "s")),
          args=("--sections", "view", "--loads", "3"), quick_args=("--pregnancies", "1000"),
          full_args=("--pregnancies", "10000"),
          about="health-department view's first load over signed records"),
    Bench("pmh_contribution", "bench/pmh.py", "--contribution-rate", (5, 10, 20), (5, 10, 20),
          (lower("contribution_p99_ms", "ms", 100.0),
           lower("contribution_cpu_ms_per_checkup", "ms")),
          args=("--sections", "contribution"), quick_args=("--contribution-seconds", "10"),
          full_args=("--contribution-seconds", "30"),
          about="a clinic's checkup to the municipality's record, open loop (size = rate/s; "
                "the floor is at 20/s)"),
    Bench("steel", "bench/steel.py", "--certificates", (200, 500, 1000), (500, 2000, 5000),
          (Figure("import_certs_per_s", "certs/s", 200.0),
           lower("export_package_ms", "ms", 500.0), lower("export_package_pdf_ms", "ms"),
           lower("verify_chain_ms_p50", "ms", 20.0)),
          quick_args=("--rounds", "3"), about="EN 10168 import, provenance package, chain"),
    Bench("fanout", "bench/fanout.py", "--consumers", (2, 3, 5), (10, 25, 50),
          (Figure("aggregate_records_per_s", "records/s"),
           Figure("single_records_per_s", "records/s"),
           Figure("ratio_to_single", "x 1 consumer", 0.8), lower("max_finish_lag_ms", "ms"),
           lower("max_p99_ms", "ms"), lower("grant_max_pause_ms", "ms", 1000.0),
           lower("revoke_max_pause_ms", "ms", 1000.0), lower("grant_max_delay_ms", "ms", 1000.0),
           lower("revoke_max_delay_ms", "ms", 1000.0)),
          quick_args=("--records", "1000"),
          # 50 consumers x 100 records/s of churn is more than 2 cores deliver: the join
          # then starves (a connector not ready within 30 s); 20/s is 1,000 deliveries/s.
          full_args=("--records", "5000", "--churn-rate", "20"),
          baseline="one consumer, same run", timeout_s=3600.0,
          about="one provider, N consumer connectors with their own agreements"),
    Bench("memory", "bench/memory.py", "--records", (5000, 20000, 50000),
          (20000, 50000, 100000),
          (lower("rss_mb", "MB", 150.0), lower("provider_rss_mb", "MB"),
           lower("consumer_rss_mb", "MB"), Figure("max_records_per_s", "records/s"),
           Figure("replay_records_per_s", "records/s")),
          args=("--soak-minutes", "0"), timeout_s=1800.0,
          about="connector RSS holding N records and streaming them to an app (issue 17 "
                "item 4)"),
    # The 30-minute soak is the floor's; its samples each minute show any growth over time.
    Bench("memory_soak", "bench/memory.py", "--soak-minutes", (0.5, 1, 2), (2, 5, 30),
          (lower("soak_rss_slope_mb_per_min", "MB/min", 0.5), lower("soak_rss_growth_mb", "MB"),
           lower("soak_p99_ms", "ms"), Figure("soak_rate_per_s", "records/s")),
          quick_args=("--records", "10000", "--sample-s", "10"),
          full_args=("--records", "20000", "--sample-s", "60"),
          baseline="the closed-loop maximum, same run", timeout_s=3600.0,
          about="RSS growth at 50 % of the measured maximum, open loop (size = minutes)"),
    Bench("cluster", "bench/cluster.py", "--records", (2000, 5000, 10000),
          (20000, 50000, 100000),
          (Figure("single.records_per_s", "records/s"),
           Figure("cluster.records_per_s", "records/s")),
          baseline="one server, same run", timeout_s=1800.0,
          about="one server, a 3-node cluster with its stream leader killed, a hub and a "
                "leaf cut off (issue 17 item 5)"),
    Bench("catalog", "bench/catalog.py", "--datasets", (1000, 3000, 10000),
          (1000, 10000, 100000),
          (lower("search_ms_p50", "ms", 20.0), lower("search_ms_p99", "ms", 100.0),
           lower("change_visible_ms_p99", "ms", 1000.0), lower("node_rss_mb", "MB", 300.0),
           lower("crawl_s", "s")),
          quick_args=("--queries", "500"), timeout_s=1800.0,
          about="catalog node: crawl, change visible, search, RSS (issue 16)"),
    Bench("catalog_nats", "bench/catalog.py", "--datasets", (1000, 3000, 10000),
          (1000, 10000, 100000),
          (lower("search_ms_p50", "ms", 20.0), lower("search_ms_p99", "ms", 100.0),
           lower("change_visible_ms_p99", "ms", 1000.0), lower("node_rss_mb", "MB", 300.0),
           lower("crawl_s", "s")),
          args=("--nats", "--operator"), quick_args=("--queries", "500"), timeout_s=3600.0,
          about="catalog node over NATS in operator mode: 100 participants (an account each) "
                "answering signed, paged DSP catalogs and publishing signed change events, "
                "the node following its imported feed; crawl, change, search, RSS (issue 16)"),
)


def by_name(names: list[str] | None) -> list[Bench]:
    """The entries named (all when None); an unknown name is an error naming it."""
    if not names:
        return list(BENCHMARKS)
    known = {b.name: b for b in BENCHMARKS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown benchmark {', '.join(unknown)}; known: "
                         f"{', '.join(known)}")
    return [known[n] for n in names]
