"""`/metrics`: Prometheus text format for the live-help server.

Figures: sessions (clients listed on the Monitor), operators online, conversations,
messages stored, event-loop lag and store latency; in cluster mode the process's name,
whether its relay reaches Redis, the processes alive, the events relayed and the
operators' places refused or left unchecked. The model and store figures are computed
when scraped; the histograms live in the application's own registry.

Event-loop lag comes from `LoopLagSampler`, one per application, which wakes up
every `LAG_SAMPLE_SECONDS` and records how late it woke. It starts on the first
scrape; `start_loop_lag_sampler(app)` / `stop_loop_lag_sampler(app)` let the
server start it with the app and stop it with the services.

Access: admins always; anyone connecting from the loopback interface when
`metrics localhost only` is true (the default) and the server is not behind the
load balancer (there the proxy connects over loopback for every visitor, with or
without forwarding headers). Everyone else gets 403.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Any

import tornado.web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from handlers.base import JsonHandler
from state.store.base import StoreError

# Often enough to catch a 10 ms stall, rarely enough to cost nothing measurable.
LAG_SAMPLE_SECONDS = 0.02
# The recent quantiles cover this long: one scrape interval of a typical
# Prometheus set-up is 15 s, and a benchmark can wait this long between scrapes.
LAG_WINDOW_SECONDS = 10.0
# Histogram buckets (seconds): fine below 20 ms, where the target lies.
LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
QUANTILES = (0.5, 0.9, 0.99, 1.0)
SETTINGS_KEY = "metrics_state"
# A forwarded-for header means the peer address is a proxy's, not the requester's.
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-Ip", "Forwarded")


class LoopLagSampler:
    """Measures how late the event loop runs a callback scheduled `interval` ahead."""

    def __init__(self, interval: float = LAG_SAMPLE_SECONDS, window: float = LAG_WINDOW_SECONDS,
                 registry: CollectorRegistry | None = None) -> None:
        self.interval = interval
        self.window = window
        self.recent: deque[tuple[float, float]] = deque()  # (when, lag)
        self.histogram = Histogram(
            "livehelp_event_loop_lag_seconds", "How late the event loop ran a timer.",
            buckets=LAG_BUCKETS, registry=registry or CollectorRegistry())
        self._handle: asyncio.TimerHandle | None = None
        self._expected = 0.0

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self) -> None:
        if self._handle is None:
            self._schedule(asyncio.get_running_loop())

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._expected = loop.time() + self.interval
        self._handle = loop.call_at(self._expected, self._wake, loop)

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        lag = max(now - self._expected, 0.0)
        self.histogram.observe(lag)
        self.recent.append((now, lag))
        while self.recent and self.recent[0][0] < now - self.window:
            self.recent.popleft()
        self._schedule(loop)

    def quantiles(self) -> dict[float, float]:
        """Lag quantiles over the last `window` seconds (empty before the first sample)."""
        lags = sorted(lag for _, lag in self.recent)
        if not lags:
            return {}
        return {q: lags[min(int(q * len(lags)), len(lags) - 1)] for q in QUANTILES}


class MetricsState:
    """One application's metrics: its own registry (never the process-global one:
    tests build many apps), the lag sampler, store latency, and the figures of the
    scrape in progress, which the collector reads."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.lag = LoopLagSampler(registry=self.registry)
        self.store_latency = Histogram(
            "livehelp_store_latency_seconds", "Round trips of the store queries made by scrapes.",
            buckets=STORE_BUCKETS, registry=self.registry)
        self.figures: dict[str, Any] = {}
        self.registry.register(LiveHelpCollector(self))


def metrics_state(app: tornado.web.Application) -> MetricsState:
    """The application's MetricsState, made on first use."""
    state = app.settings.get(SETTINGS_KEY)
    if state is None:
        state = app.settings[SETTINGS_KEY] = MetricsState()
        # If the app is dropped without stop_loop_lag_sampler(), stop sampling for it.
        weakref.finalize(app, state.lag.stop)
    return state


def start_loop_lag_sampler(app: tornado.web.Application) -> None:
    """Start measuring event-loop lag for `app` (call from a running loop)."""
    metrics_state(app).lag.start()


def stop_loop_lag_sampler(app: tornado.web.Application) -> None:
    """Stop the sampler; nothing keeps running for the app afterwards."""
    state = app.settings.get(SETTINGS_KEY)
    if state is not None:
        state.lag.stop()


class LiveHelpCollector:
    """Yields the figures of the scrape in progress (gathered by the handler first)."""

    def __init__(self, state: MetricsState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        figures = self.state.figures
        gauges = {
            "sessions": "Interviewee clients listed on the Monitor.",
            "clients": "Interviewee clients known to the server (listed, hidden or offline).",
            "clients_online": "Interviewee clients with at least one open socket.",
            "operators_online": "Operators with at least one Monitor socket open.",
            "operators_available": "Operators online and available for chat.",
            "conversations": "Chat conversations assigned to an operator or in a peer session.",
            "messages_stored": "Chat messages in the store.",
        }
        for name, documentation in gauges.items():
            if figures.get(name) is not None:
                yield GaugeMetricFamily(f"livehelp_{name}", documentation, value=figures[name])
        lag = GaugeMetricFamily(
            "livehelp_event_loop_lag_recent_seconds",
            f"Event-loop lag quantiles over the last {LAG_WINDOW_SECONDS:g} s.",
            labels=["quantile"])
        for quantile, value in self.state.lag.quantiles().items():
            lag.add_metric([repr(quantile)], value)
        yield lag
        yield GaugeMetricFamily("livehelp_store_latency_last_seconds",
                                "Round trip of the store query made by this scrape.",
                                value=figures["store_latency"])
        yield GaugeMetricFamily("livehelp_store_up", "1 when the store answered this scrape.",
                                value=0 if figures["messages_stored"] is None else 1)
        if cluster := figures.get("cluster"):
            yield from cluster_metrics(cluster)


CLUSTER_GAUGES = {
    "redis_connected": "1 while the relay is subscribed to Redis (0: live updates from other"
                       " processes have stopped).",
    "processes": "Processes of the cluster alive at this process's last heartbeat.",
}
CLUSTER_COUNTERS = {
    "events_sent": "Events this process relayed to the others.",
    "events_received": "Events the other processes relayed to this one.",
    "events_dropped": "Events not relayed: Redis unreachable, or too many waiting.",
    "redis_reconnects": "Times the relay lost Redis and connected again.",
    "claims_refused": "Conversations put back in line: another process had filled the"
                      " operator's last place first.",
    "claims_unchecked": "Operators' places not recorded in Redis (it was unreachable).",
}


def cluster_metrics(cluster: dict[str, Any]) -> Iterator[Metric]:
    info = GaugeMetricFamily("livehelp_cluster_process", "This process's name in the cluster.",
                             labels=["process"])
    info.add_metric([cluster["process"]], 1)
    yield info
    for name, documentation in CLUSTER_GAUGES.items():
        yield GaugeMetricFamily(f"livehelp_cluster_{name}", documentation, value=cluster[name])
    for name, documentation in CLUSTER_COUNTERS.items():
        yield CounterMetricFamily(f"livehelp_cluster_{name}", documentation, value=cluster[name])


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


class MetricsHandler(JsonHandler):
    """GET /metrics: Prometheus text exposition."""

    def requester_is_local(self) -> bool:
        """Connected over loopback, and not relayed by a proxy (whose own peer address
        would be loopback for every visitor). Behind the load balancer every request
        is relayed, whatever headers it carries."""
        if self.config.behind_https_load_balancer:
            return False
        if any(header in self.request.headers for header in FORWARDING_HEADERS):
            return False
        peer = getattr(self.request.connection, "context", None)
        address = getattr(peer, "address", None)
        host = address[0] if isinstance(address, tuple) and address else ""
        return is_loopback(host)

    def may_read(self) -> bool:
        if self.current_user is not None and self.current_user.is_admin:
            return True
        return self.config.metrics_localhost_only and self.requester_is_local()

    async def get(self) -> None:
        if not self.may_read():
            raise tornado.web.HTTPError(403, "Metrics are for administrators only.")
        state = metrics_state(self.application)
        state.lag.start()
        figures: dict[str, Any] = self.livehelp.figures()
        started = time.perf_counter()
        try:
            figures["messages_stored"] = await self.store.count_messages()
        except StoreError:  # the store being down is itself a figure worth reporting
            figures["messages_stored"] = None
        figures["store_latency"] = time.perf_counter() - started
        if cluster := self.settings.get("cluster"):
            figures["cluster"] = {"process": cluster.process, **cluster.figures()}
        state.store_latency.observe(figures["store_latency"])
        state.figures = figures  # no await between here and the exposition below
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(state.registry))


routes = [(r"metrics", MetricsHandler)]
