"""/metrics: Prometheus text with the live-help figures, readable by admins and localhost."""

from __future__ import annotations

import asyncio
import time

from prometheus_client.parser import text_string_to_metric_families

from handlers.metrics import LoopLagSampler, is_loopback, metrics_state
from state.config import Config
from tests.conftest import LiveServer
from tests.socket_helpers import interviewee, live_session, operator


def samples(text: str) -> dict[str, float]:
    """name{labels} -> value for every sample of the exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


async def scrape(server: LiveServer, cookie: str = "") -> dict[str, float]:
    response = await server.fetch("metrics", cookie=cookie)
    assert response.code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(response.body.decode())


async def test_figures_follow_sessions_operators_and_messages(live_server: LiveServer) -> None:
    before = await scrape(live_server)
    assert before["livehelp_sessions"] == 0
    assert before["livehelp_operators_online"] == 0
    assert before["livehelp_messages_stored"] == 0

    olga = await operator(live_server)
    record = await live_session(live_server)
    ann = await interviewee(live_server, record, browser="browser-ann")
    await ann.send(type="activate")
    await ann.until("state", lambda m: m["active"])
    await ann.send(type="chat", client_id="c-1", text="hello")
    await ann.receive("ack")

    after = await scrape(live_server)
    assert after["livehelp_sessions"] == 1
    assert after["livehelp_operators_online"] == 1
    assert after["livehelp_operators_available"] == 1
    assert after["livehelp_conversations"] == 1
    assert after["livehelp_messages_stored"] == 1
    assert after["livehelp_store_up"] == 1
    assert after["livehelp_store_latency_last_seconds"] > 0
    ann.close()
    olga.close()


STALL = "livehelp_event_loop_lag_seconds_bucket{le=0.05}"  # samples at most 50 ms late
SAMPLES = "livehelp_event_loop_lag_seconds_count"


async def sampled(sampler: LoopLagSampler, more: int) -> None:
    """Wait (for the sampler's own timer: it wakes every `interval`) until it has taken
    `more` samples beyond those it has now; give up after 10 s."""
    wanted = len(sampler.recent) + more
    for _ in range(int(10 / sampler.interval)):
        if len(sampler.recent) >= wanted:
            return
        await asyncio.sleep(sampler.interval)
    raise AssertionError(f"the sampler took {len(sampler.recent)} samples, not {wanted}")


async def test_event_loop_lag_is_sampled(live_server: LiveServer) -> None:
    """The first scrape starts the sampler; its samples and recent quantiles are exposed.
    How often it samples is measured by bench/timings.py."""
    before = await scrape(live_server)
    sampler = metrics_state(live_server.app).lag
    assert sampler.running
    await sampled(sampler, 3)
    figures = await scrape(live_server)
    assert figures[SAMPLES] >= before.get(SAMPLES, 0) + 3
    assert "livehelp_event_loop_lag_recent_seconds{quantile=0.99}" in figures
    sampler.stop()
    assert not sampler.running


async def test_a_blocked_loop_shows_as_lag(live_server: LiveServer) -> None:
    """Before and after blocking the event loop for 100 ms: the sample taken after the
    block is at least 80 ms late (the block, less one 20 ms sampling interval), so the
    samples later than 50 ms grow by one at least. No bound on how fast anything runs:
    a slower machine only adds late samples. How exact the figure is, bench/timings.py."""
    await scrape(live_server)
    sampler = metrics_state(live_server.app).lag
    await sampled(sampler, 1)
    before = await scrape(live_server)
    time.sleep(0.1)  # noqa: ASYNC251  (blocking the loop is what this test is about)
    await sampled(sampler, 1)
    after = await scrape(live_server)
    assert after[SAMPLES] - after[STALL] > before[SAMPLES] - before[STALL]
    sampler.stop()


async def test_admin_may_read_from_anywhere(config: Config, live_server: LiveServer) -> None:
    config.metrics_localhost_only = False
    admin = await live_server.add_user("admin@example.com", ("admin",))
    figures = await scrape(live_server, await live_server.user_cookie(admin))
    assert "livehelp_sessions" in figures


async def test_localhost_needs_no_account_when_configured(live_server: LiveServer) -> None:
    assert live_server.services.config.metrics_localhost_only
    assert (await live_server.fetch("metrics")).code == 200


async def test_others_are_refused(config: Config, live_server: LiveServer) -> None:
    config.metrics_localhost_only = False
    advocate = await live_server.add_user("adv@example.com", ("advocate",))
    assert (await live_server.fetch("metrics")).code == 403
    cookie = await live_server.user_cookie(advocate)
    assert (await live_server.fetch("metrics", cookie=cookie)).code == 403


async def test_a_proxied_request_is_not_local(live_server: LiveServer) -> None:
    response = await live_server.fetch("metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.code == 403


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("192.0.2.1") and not is_loopback("")
