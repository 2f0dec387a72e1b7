"""Prometheus metrics of ``yamori serve``, one registry per server process (tests start several servers).

The pipeline runs in its own process: it sends its counters as a :class:`PipelineStats` snapshot, which the
server process exposes through :class:`PipelineCollector` next to the inputs' own metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(slots=True)
class InputMetrics:
    """What inputs count, in the server process."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    records: Counter = field(init=False)
    received_bytes: Counter = field(init=False)
    dropped: Counter = field(init=False)
    pushback: Counter = field(init=False)
    backlog: Gauge = field(init=False)

    def __post_init__(self) -> None:
        registry = self.registry
        self.records = Counter("yamori_input_records", "Records (messages, lines, batches) accepted per input",
                               ["input"], registry=registry)
        self.received_bytes = Counter("yamori_input_bytes", "Bytes accepted per input", ["input"], registry=registry)
        self.dropped = Counter("yamori_input_dropped", "Records an input dropped (UDP under overload, oversized, "
                               "unauthorised)", ["input", "reason"], registry=registry)
        self.pushback = Counter("yamori_input_pushback", "Times an input pushed back on its sender (HTTP 429/503, "
                                "TCP reads paused)", ["input"], registry=registry)
        self.backlog = Gauge("yamori_queue_depth_records", "Write-ahead-log records not yet stored by the pipeline",
                             registry=registry)


@dataclass(slots=True)
class PipelineStats:
    """A snapshot of the pipeline's counters (picklable: it crosses from the pipeline process)."""

    events_in: dict[str, int] = field(default_factory=dict)
    """Events parsed, per input."""
    parse_errors: dict[str, int] = field(default_factory=dict)
    filtered: dict[str, int] = field(default_factory=dict)
    """Events dropped by ingest filters, per filter rule name."""
    sampled_out: dict[str, int] = field(default_factory=dict)
    stored: int = 0
    alerts: int = 0
    committed_seq: int = -1
    store_bytes: int = 0
    events_per_second: float = 0.0
    latency_buckets: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    """(rule id, input) -> cumulative counts per LATENCY_BUCKETS bound, then +Inf."""
    latency_sum: dict[tuple[str, str], float] = field(default_factory=dict)
    correlation: dict[str, int] = field(default_factory=dict)
    """The correlator's counters: observations, late, duplicates, ungrouped, evicted, alerts, groups."""
    clock_wanted: bool = False
    """Correlation windows wait for time to pass: the server appends clock records while the log is quiet."""

    def observe_latency(self, rule_id: str, input_name: str, seconds: float) -> None:
        key = (rule_id, input_name)
        counts = self.latency_buckets.get(key)
        if counts is None:
            counts = self.latency_buckets[key] = [0] * (len(LATENCY_BUCKETS) + 1)
        for position, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                counts[position] += 1
        counts[-1] += 1
        self.latency_sum[key] = self.latency_sum.get(key, 0.0) + seconds


class PipelineCollector(Collector):
    """Exposes the latest :class:`PipelineStats` snapshot received from the pipeline process."""

    def __init__(self) -> None:
        self.stats = PipelineStats()

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        stats = self.stats
        yield _counter("yamori_events", "Events parsed per input", "input", stats.events_in)
        yield _counter("yamori_parse_errors", "Malformed records per input (kept aside as bad records)", "input",
                       stats.parse_errors)
        yield _counter("yamori_filtered_events", "Events dropped by an ingest filter rule", "rule", stats.filtered)
        yield _counter("yamori_sampled_out_events", "Events not kept by a sampling filter rule", "rule",
                       stats.sampled_out)
        stored = CounterMetricFamily("yamori_stored_events", "Events written to the store")
        stored.add_metric([], stats.stored)
        yield stored
        alerts = CounterMetricFamily("yamori_alerts", "Alerts written to the store")
        alerts.add_metric([], stats.alerts)
        yield alerts
        for name, help_text, value in (
            ("yamori_store_bytes", "Bytes of the event and alert store on disk", stats.store_bytes),
            ("yamori_events_per_second", "Events stored per second over the last seconds", stats.events_per_second),
            ("yamori_committed_seq", "Last write-ahead-log record the store holds", stats.committed_seq),
        ):
            gauge = GaugeMetricFamily(name, help_text)
            gauge.add_metric([], value)
            yield gauge
        correlation = {name: value for name, value in stats.correlation.items() if name not in ("groups", "pending")}
        yield _counter("yamori_correlation", "Correlator counts: observations, late, duplicates, ungrouped, evicted, "
                       "alerts", "what", correlation)
        state = GaugeMetricFamily("yamori_correlation_state", "Open correlation groups and observations waiting "
                                  "for the watermark", labels=["what"])
        for name in ("groups", "pending"):
            state.add_metric([name], stats.correlation.get(name, 0))
        yield state
        latency = HistogramMetricFamily("yamori_detection_latency_seconds",
                                        "Event received to alert stored, per rule and input",
                                        labels=["rule", "input"])
        for (rule, input_name), counts in stats.latency_buckets.items():
            buckets = [(str(bound), counts[position]) for position, bound in enumerate(LATENCY_BUCKETS)]
            buckets.append(("+Inf", counts[-1]))
            latency.add_metric([rule, input_name], buckets, stats.latency_sum[(rule, input_name)])
        yield latency


def _counter(name: str, help_text: str, label: str, values: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, help_text, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family


def merge_stats(parts: list[PipelineStats]) -> PipelineStats:
    """One snapshot for several pipeline processes: counters summed, the committed position the lowest."""
    merged = PipelineStats()
    if not parts:
        return merged
    for part in parts:
        merged.clock_wanted = merged.clock_wanted or part.clock_wanted
        for mine, theirs in ((merged.events_in, part.events_in), (merged.parse_errors, part.parse_errors),
                             (merged.filtered, part.filtered), (merged.sampled_out, part.sampled_out),
                             (merged.correlation, part.correlation)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        merged.stored += part.stored
        merged.alerts += part.alerts
        merged.events_per_second += part.events_per_second
        merged.store_bytes = max(merged.store_bytes, part.store_bytes)
        for rule_input, counts in part.latency_buckets.items():
            total = merged.latency_buckets.setdefault(rule_input, [0] * len(counts))
            for position, count in enumerate(counts):
                total[position] += count
            merged.latency_sum[rule_input] = merged.latency_sum.get(rule_input, 0.0) + part.latency_sum[rule_input]
    merged.committed_seq = min(part.committed_seq for part in parts)
    return merged
