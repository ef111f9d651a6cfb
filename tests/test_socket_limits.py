"""What one socket, browser or address may cost the server (docs/protocol.md, "Limits
and close codes"): a reader that falls too far behind is closed with 1013 while the
memory kept for it stays bounded; the socket after the last allowed one of a browser
or an address is refused with 429; the registry closes one account's sockets or all
of them, and waits for the messages being handled (drain)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
import tornado.httpclient
import tornado.websocket

from handlers.socket_registry import (
    CLOSE_SERVER_RESTART,
    CLOSE_SIGNED_OUT,
    CLOSE_TOO_FAR_BEHIND,
    SocketRegistry,
)
from state.config import LimitsFile
from state.store.base import ChatMessage, SessionRecord
from tests.conftest import LiveServer
from tests.frames import next_message
from tests.slow_reader import SlowReader
from tests.socket_helpers import Person, interviewee, live_session, operator, session_cookie

MAX_QUEUED = 64 * 1024
PER_BROWSER = 3
PER_ADDRESS = 8
# Seeded messages: one `hello` replays them all, about 49 KB, less than MAX_QUEUED,
# so a reader that keeps up is never closed and one that does not is closed after a
# few replies.
SEEDED, SEED_CHARS = 12, 4000
# The closing frame joins the backlog after the close: at most 2 header bytes, a
# 2-byte code and 123 bytes of reason (RFC 6455 section 5.5).
CLOSING_FRAME = 127
# Replies the server may queue for a reader that reads nothing before it must have
# closed it: the few kilobytes the kernel takes (Flood), then MAX_QUEUED. Fewer than
# the `hello`s a page may send at once (state/livehelp/limits.py REPLAY_BURST).
MAX_HELLOS = 6
# Chats of SEED_CHARS published to a reader that reads nothing before it must have
# been closed: MAX_QUEUED and the few kilobytes the kernel takes, with room to spare;
# fewer than a sender may send at once (`limits: chat burst`, 30).
MAX_CHATS = 25
SENTINEL = "zz_sentinel"  # an unknown type: refused with an `error` whose ref is the type


@pytest.fixture
def config(config, request):
    """Small limits; `{"behind": True}` via an indirect parameter puts the server
    behind a load balancer (X-Forwarded-For gives the client address)."""
    config.limits = LimitsFile(max_queued_bytes=MAX_QUEUED, sockets_per_browser=PER_BROWSER,
                               sockets_per_address=PER_ADDRESS)
    config.behind_https_load_balancer = getattr(request, "param", {}).get("behind", False)
    return config


BEHIND_BALANCER = pytest.mark.parametrize("config", [{"behind": True}], indirect=True)


def registry(server: LiveServer) -> SocketRegistry:
    return server.app.settings["sockets"]


def sockets_of(server: LiveServer, browser: str) -> list:
    return [s for s in registry(server).sockets() if s.keys.browser == browser]


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `condition()` holds; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def alive(person: Person) -> None:
    """The socket is open and handled: a sentinel frame gets its refusal."""
    await person.send(type=SENTINEL)
    await person.until("error", lambda m: m["ref"] == SENTINEL)


async def closed(ws: tornado.websocket.WebSocketClientConnection) -> tuple[int, str]:
    """Read until the server closes `ws`; its close code and reason."""
    while await next_message(ws) is not None:
        pass
    return ws.close_code, ws.close_reason


async def peer_session(server: LiveServer, messages: int = 0) -> SessionRecord:
    """A peer-mode session (no operator needed) holding `messages` long chat messages."""
    record = await live_session(server, mode="peer")
    for number in range(messages):
        await server.services.store.add_message(ChatMessage(
            conversation=record.id, session_id=record.id, sender_key="b:seed",
            sender_role="user", text=f"{number:04d}" + "x" * (SEED_CHARS - 4),
            client_id=f"seed-{number}"))
    return record


async def connect(server: LiveServer, path: str, cookie: str,
                  forwarded_for: str = "") -> tornado.websocket.WebSocketClientConnection:
    headers = {"Origin": f"http://127.0.0.1:{server.port}", "Cookie": cookie}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    request = tornado.httpclient.HTTPRequest(server.ws_url(path), headers=headers)
    return await tornado.websocket.websocket_connect(request)


async def refusal(server: LiveServer, path: str, cookie: str, forwarded_for: str = ""):
    """An upgrade that must be refused: (its status, the status and text of the same
    request as a plain GET, which shows the words the refusal carries)."""
    with pytest.raises(tornado.httpclient.HTTPClientError) as error:
        await connect(server, path, cookie, forwarded_for)
    headers = {"Cookie": cookie, **({"X-Forwarded-For": forwarded_for} if forwarded_for else {})}
    page = await server.fetch(path, headers=headers)
    return error.value.code, page.code, page.body.decode()


# a reader too far behind ---------------------------------------------------------------
class Flood:
    """A page that says `hello` again and again on a socket it never reads, each
    `hello` replaying the whole conversation (the fault this limit closes)."""

    def __init__(self, server: LiveServer, slow: SlowReader) -> None:
        self.slow, self.sent = slow, 0
        # Bytes waiting for the socket right after each `hello` was handled, before the
        # event loop flushed anything: the most the server holds for it.
        self.waiting: list[int] = []
        self.target, = sockets_of(server, "b:slow")
        # A congested network: the kernel takes a few kilobytes for this connection,
        # not the megabytes it grows to on loopback, so what the server writes next
        # stays in its own memory.
        self.target.ws_connection.stream.socket.setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        original = self.target.on_hello

        async def counting_hello(message) -> None:
            await original(message)
            self.waiting.append(self.target.queued_bytes())

        self.target.on_hello = counting_hello

    @classmethod
    async def open(cls, server: LiveServer) -> Flood:
        record = await peer_session(server, SEEDED)
        slow = await SlowReader.open(server, f"ws/user/{record.id}",
                                     session_cookie(server, record, "slow"))
        flood = cls(server, slow)
        await eventually(lambda: flood.target.client is not None)  # its open() has run
        return flood

    async def hello(self) -> None:
        """One more `hello`, handled by the server when this returns."""
        await self.slow.send({"type": "hello", "last_seq": 0, "active": True})
        self.sent += 1
        await eventually(lambda: len(self.waiting) == self.sent)

    @property
    def closed(self) -> bool:
        return self.target.ws_connection is None

    async def until_closed(self) -> None:
        """Say `hello` until the server closes the socket."""
        while not self.closed:
            assert self.sent < MAX_HELLOS, "the server kept queueing for a reader that reads nothing"
            await self.hello()


async def test_a_reader_that_does_not_read_is_closed_with_1013_and_costs_bounded_memory(
        live_server):
    flood = await Flood.open(live_server)
    await flood.until_closed()
    bound = MAX_QUEUED + CLOSING_FRAME
    assert flood.waiting[0] > 0  # the server did count what the kernel would not take
    # Closed: what was queued is dropped, and what it is sent from now on too.
    for _ in range(3):
        await flood.hello()
    assert max(flood.waiting) <= bound
    # Once it reads, the page gets what the network held, then the close code and words.
    messages, code, reason = await flood.slow.read_until_close()
    flood.slow.close()
    assert (code, reason) == (CLOSE_TOO_FAR_BEHIND,
                              "The connection fell too far behind; reconnecting.")
    assert messages and messages[0]["type"] == "state"


async def test_a_reader_of_a_busy_conversation_that_does_not_read_is_closed(live_server):
    flood = await Flood.open(live_server)
    record_id = flood.target.client.session_id
    chatter = await interviewee(live_server, await live_server.services.store.get_session(
        record_id), browser="chatter")
    await chatter.send(type="activate")
    await chatter.until("state", lambda m: m["active"])
    # Each chat is published to everyone in the session, the slow reader included.
    for number in range(MAX_CHATS):
        if flood.closed:
            break
        await chatter.send(type="chat", client_id=f"c-{number}", text="y" * SEED_CHARS)
        await chatter.until("ack", lambda m, number=number: m["client_id"] == f"c-{number}")
        assert flood.target.queued_bytes() <= MAX_QUEUED + CLOSING_FRAME
    assert flood.closed, "the server kept queueing chats for a reader that reads nothing"
    await alive(chatter)
    _, code, _ = await flood.slow.read_until_close()
    flood.slow.close()
    assert code == CLOSE_TOO_FAR_BEHIND


async def test_a_bystander_chats_on_while_another_reader_is_closed(live_server):
    bystander = await interviewee(live_server, await peer_session(live_server))
    await bystander.send(type="activate")
    await bystander.until("state", lambda m: m["active"])
    flood = await Flood.open(live_server)
    await flood.until_closed()
    await bystander.send(type="chat", client_id="b-1", text="still here")
    answers = {}
    while not {"ack", "chat"} <= answers.keys():
        message = await bystander.receive()
        answers[message["type"]] = message
    assert answers["ack"]["client_id"] == "b-1"
    assert answers["chat"]["text"] == "still here"
    flood.slow.close()


async def test_a_page_that_reconnects_gets_a_replay_larger_than_the_limit(live_server):
    record = await peer_session(live_server, 2 * MAX_QUEUED // SEED_CHARS)
    page = await interviewee(live_server, record, browser="back")
    await page.send(type="hello", last_seq=0, active=True)
    seqs = []
    while len(seqs) < 2 * MAX_QUEUED // SEED_CHARS:
        seqs.append((await page.receive("chat"))["seq"])
    assert seqs == list(range(1, len(seqs) + 1))
    await alive(page)


# sockets per browser and per address ------------------------------------------------
async def test_the_socket_after_the_last_one_a_browser_may_hold_gets_429(live_server):
    record = await live_session(live_server)
    tabs = [await interviewee(live_server, record, browser="ann") for _ in range(PER_BROWSER)]
    cookie = session_cookie(live_server, record, "ann")
    socket_code, page_code, body = await refusal(live_server, f"ws/user/{record.id}", cookie)
    assert (socket_code, page_code) == (429, 429)
    assert f"You already have {PER_BROWSER} live help connections open" in body
    for tab in tabs:
        await alive(tab)
    await interviewee(live_server, record, browser="bob")  # another browser is not counted
    tabs[0].close()
    await eventually(lambda: registry(live_server).per_browser("b:ann") < PER_BROWSER)
    await interviewee(live_server, record, browser="ann")  # a closed tab frees its place


async def test_refused_upgrades_leave_nothing_counted(live_server):
    record = await live_session(live_server)
    cookie = session_cookie(live_server, record, "ann")
    for _ in range(PER_BROWSER + 1):  # counted, then refused by the origin check
        with pytest.raises(tornado.httpclient.HTTPClientError) as error:
            await live_server.websocket(f"ws/user/{record.id}", cookie,
                                        origin="http://evil.example")
        assert error.value.code == 403
    assert registry(live_server).per_browser("b:ann") == 0
    await alive(await interviewee(live_server, record, browser="ann"))


async def test_monitor_sockets_count_per_account(live_server):
    first = await operator(live_server, available=False, roles=())
    cookie = await live_server.user_cookie(first.user)
    monitors = [first]
    for _ in range(PER_BROWSER - 1):
        monitors.append(Person(await live_server.websocket("ws/monitor", cookie)))
    socket_code, page_code, body = await refusal(live_server, "ws/monitor", cookie)
    assert (socket_code, page_code) == (429, 429)
    assert "live help connections open" in body
    for monitor in monitors:
        await alive(monitor)
    await operator(live_server, "other@example.com", available=False, roles=())


@BEHIND_BALANCER
async def test_the_socket_after_the_last_one_an_address_may_hold_gets_429(live_server):
    record = await live_session(live_server)
    path = f"ws/user/{record.id}"
    office = [Person(await connect(live_server, path, session_cookie(live_server, record),
                                   forwarded_for="203.0.113.7"))
              for _ in range(PER_ADDRESS)]
    assert registry(live_server).per_address("203.0.113.7") == PER_ADDRESS
    # The balancer appends the address it saw; what the client wrote before it is not
    # believed, so claiming another address does not help.
    socket_code, page_code, body = await refusal(
        live_server, path, session_cookie(live_server, record),
        forwarded_for="198.51.100.1, 203.0.113.7")
    assert (socket_code, page_code) == (429, 429)
    assert f"Your network address already has {PER_ADDRESS} live help connections" in body
    for person in office:
        await alive(person)
    elsewhere = Person(await connect(live_server, path, session_cookie(live_server, record),
                                     forwarded_for="203.0.113.8"))
    await alive(elsewhere)
    assert registry(live_server).per_address("203.0.113.8") == 1


async def test_without_a_balancer_x_forwarded_for_is_ignored(live_server):
    record = await live_session(live_server)
    ws = await connect(live_server, f"ws/user/{record.id}",
                       session_cookie(live_server, record, "direct"),
                       forwarded_for="203.0.113.7")
    await alive(Person(ws))
    target, = sockets_of(live_server, "b:direct")
    assert target.keys.address == "127.0.0.1"


# closing, draining ----------------------------------------------------------------------
async def test_drain_waits_for_the_message_being_handled(live_server):
    record = await peer_session(live_server)
    user = await interviewee(live_server, record, browser="typist")
    target, = sockets_of(live_server, "b:typist")
    entered, release = asyncio.Event(), asyncio.Event()

    async def held_typing(message) -> None:
        entered.set()
        await release.wait()
        target.send({"type": "typing_done"})

    target.on_typing = held_typing
    await user.send(type="typing", typing=True)
    await asyncio.wait_for(entered.wait(), 5)
    sockets = registry(live_server)
    assert sockets.in_flight == 1
    assert await sockets.drain(timeout=0.05) is False  # the message cannot finish meanwhile
    draining = asyncio.create_task(sockets.drain(timeout=5))
    release.set()
    assert await draining is True
    assert sockets.in_flight == 0
    await user.receive("typing_done")


async def test_close_all_closes_every_socket_with_its_code_and_reason(live_server):
    record = await live_session(live_server)
    people = [await interviewee(live_server, record), await interviewee(live_server, record),
              await operator(live_server, available=False, roles=())]
    reason = "The server is restarting; reconnecting."
    assert registry(live_server).close_all(CLOSE_SERVER_RESTART, reason) == 3
    for person in people:
        assert await closed(person.ws) == (CLOSE_SERVER_RESTART, reason)
    await eventually(lambda: len(registry(live_server)) == 0)


async def test_close_account_closes_only_that_accounts_sockets(live_server):
    record = await live_session(live_server)
    ann = await operator(live_server, "ann@example.com", available=False, roles=())
    ann_again = Person(await live_server.websocket("ws/monitor",
                                                   await live_server.user_cookie(ann.user)))
    bob = await operator(live_server, "bob@example.com", available=False, roles=())
    visitor = await interviewee(live_server, record)
    sockets = registry(live_server)
    assert sorted(sockets.accounts()) == sorted([ann.user.id, bob.user.id])
    reason = "You were signed out."
    assert sockets.close_account(ann.user.id, CLOSE_SIGNED_OUT, reason) == 2
    for person in (ann, ann_again):
        assert await closed(person.ws) == (CLOSE_SIGNED_OUT, reason)
    for person in (bob, visitor):
        await alive(person)
    await eventually(lambda: sockets.accounts() == [bob.user.id])
