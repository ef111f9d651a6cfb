"""Two real livehelp processes in cluster mode (Redis, nx-27017, nginx in front; see
tests/cluster_processes.py): they know each other, relay what operators see, find a
killed process dead, and nginx keeps every socket of a session on one process."""

from __future__ import annotations

import asyncio
import signal

import tornado.httpclient

from bench.common import connect, receive
from tests.cluster_processes import metrics
from tests.fixtures_cluster import (
    BROWSERS,
    INTERVIEW,
    SESSIONS,
    WAIT_SECONDS,
    Cluster,
    until_figure,
)

PAGES = 8

async def test_each_process_knows_the_other_and_finds_it_dead_when_killed(
        cluster: Cluster) -> None:
    for process in (cluster.a, cluster.b):
        await until_figure(process.port, "livehelp_cluster_processes", 2)
        figures = await metrics(process.port)
        name = "a" if process is cluster.a else "b"
        assert figures[f'livehelp_cluster_process{{process="{name}"}}'] == 1
        assert figures["livehelp_cluster_redis_connected"] == 1
    cluster.b.stop(signal.SIGKILL)
    await until_figure(cluster.a.port, "livehelp_cluster_processes", 1)
    log = (cluster.a.data_dir / "server.log").read_text()
    assert "process b stopped beating: taken for dead" in log


async def session_event(monitor, session_id: str, kind: str = "session") -> dict:
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            event = await receive(monitor, kind)
            if kind != "session" or event["session"]["session"] == session_id:
                return event


async def test_a_monitor_lists_the_sessions_of_the_other_process_offline_when_it_dies(
        cluster: Cluster) -> None:
    record = cluster.records[0]
    cookie = cluster.b.user_cookie(cluster.operator)
    first = await connect(cluster.b.ws_url("ws/monitor"), cookie)
    await receive(first, "monitor")
    await until_figure(cluster.a.port, "livehelp_cluster_processes", 2)
    user = await connect(cluster.a.ws_url(f"ws/user/{record.id}"),
                         cluster.a.session_cookie(record, "browser-1"))
    await receive(user, "state")
    entry = (await session_event(first, record.id))["session"]  # a's event, relayed
    later = await connect(cluster.b.ws_url("ws/monitor"), cookie)
    snapshot = await receive(later, "monitor")  # b's snapshot has a's session
    assert [e["id"] for e in snapshot["sessions"] if e["session"] == record.id] == [entry["id"]]
    cluster.a.stop(signal.SIGKILL)
    async with asyncio.timeout(WAIT_SECONDS):
        while (await session_event(later, record.id))["session"]["status"] != "offline":
            pass
    for ws in (user, first, later):
        ws.close()


async def test_nginx_keeps_every_socket_of_a_session_on_one_process(cluster: Cluster) -> None:
    sockets = []
    placed = []  # per session: how many of its browsers each process got
    before = [0.0, 0.0]
    for record in cluster.records:
        for browser in range(BROWSERS):
            ws = await connect(f"ws://127.0.0.1:{cluster.nginx.port}/ws/user/{record.id}",
                               cluster.a.session_cookie(record, f"browser-{browser}"),
                               port=cluster.nginx.port)
            await receive(ws, "state")
            sockets.append(ws)
        now = [(await metrics(port)).get("livehelp_clients", 0)
               for port in (cluster.a.port, cluster.b.port)]
        placed.append(sorted(after - earlier for after, earlier in zip(now, before, strict=True)))
        before = now
    assert placed == [[0, BROWSERS]] * SESSIONS  # never split between the processes
    for ws in sockets:
        ws.close()


async def test_an_interviews_pages_reach_the_process_of_its_sessions_sockets(
        cluster: Cluster) -> None:
    """What a page changes, the session's home must know: its pages go there too."""
    base = f"http://127.0.0.1:{cluster.nginx.port}"
    record = cluster.records[0]
    cookie = cluster.a.session_cookie(record, "browser-1")
    ws = await connect(f"ws://127.0.0.1:{cluster.nginx.port}/ws/user/{record.id}", cookie,
                       port=cluster.nginx.port)
    await receive(ws, "state")
    client = tornado.httpclient.AsyncHTTPClient()
    first = await client.fetch(f"{base}/interview/{INTERVIEW}", headers={"Cookie": cookie})
    home_cookie = next(value.split(";")[0] for value in first.headers.get_list("Set-Cookie")
                       if value.startswith("lh_home="))
    assert home_cookie == f"lh_home={record.id}"
    for _ in range(PAGES):
        await client.fetch(f"{base}/interview/{INTERVIEW}",
                           headers={"Cookie": f"{cookie}; {home_cookie}"})
    # The socket's process holds its client (nginx logs a socket only when it closes).
    [socket_home] = [str(process.port) for process in (cluster.a, cluster.b)
                     if (await metrics(process.port)).get("livehelp_clients") == 1]
    pages = [port for path, home, port in cluster.nginx.served()
             if path.startswith("/interview/") and home == record.id]
    assert pages == [socket_home] * PAGES
    ws.close()


async def test_one_process_sets_no_home_cookie(live_server) -> None:
    response = await live_server.fetch(f"interview/{INTERVIEW}")
    cookies = response.headers.get_list("Set-Cookie")
    assert any(value.startswith("lh_sessions=") for value in cookies)  # the page was served
    assert not any(value.startswith("lh_home=") for value in cookies)
