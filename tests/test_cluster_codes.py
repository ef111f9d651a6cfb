"""Phone access codes across the processes of a cluster (state/phone/ledger.py,
state/cluster/codes.py): the Redis ledger's scripts against a real redis-server, and
two real livehelp processes (a and b, sharing Redis and nx-27017) where Twilio calls
the process that did not issue the code."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
import redis.asyncio as redis

from bench.common import LiveHelpProcess, connect, receive, seed
from state.cluster import Cluster
from state.cluster.codes import RedisCodeLedger, RedisTally
from state.livehelp.hub import Hub
from state.phone.limits import REISSUE_EVERY_WRONG_CODES, WRONG_CODE_BUDGET
from state.store.base import OperatorSettings, SessionRecord
from state.store.mongo import MongoStore
from tests.cluster_processes import cluster_process
from tests.fixtures_redis import RedisServer, redis_server  # noqa: F401  (fixture)
from tests.test_voice import CENTRAL, OPERATOR_PHONE, TOKEN, call, post, says, twiml

WAIT_SECONDS = 20.0
TWILIO = {"voice": True, "auth token": TOKEN, "number": CENTRAL}
PAUSED = "Code entry is paused"
UNAVAILABLE = "Code entry is not available right now. Please try again in a few minutes."
# The expiry run also brings each home's codes in line with the ledger, mending any
# message between processes that was lost; an hour apart, the tests see only what
# happens at once.
NO_EXPIRY_RUN = {"live help": {"code check seconds": 3600}}
RACERS = 20  # calls at once in a race between two processes


async def until(condition: Callable[[], Awaitable[bool] | bool]) -> None:
    """Wait for `condition` (a plain or an async test), at most WAIT_SECONDS."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            met = condition()
            if await met if isinstance(met, Awaitable) else met:
                return
            await asyncio.sleep(0.02)


# ---------------------------------------------------------------- the ledger's scripts
class Holder:
    """What a home gives its ledger (its live codes) and learns back (their outcomes)."""

    def __init__(self, ledger: RedisCodeLedger) -> None:
        self.records: list[dict] = []
        self.outcomes: list[dict[str, str]] = []
        ledger.attach(lambda: [(record, 60.0) for record in self.records],
                      self.outcomes.append)

    def hold(self, digits: str, operator: str = "op-1") -> str:
        token = secrets.token_hex(8)
        self.records.append({"code": digits, "token": token, "client_key": f"s|{token}",
                             "session_id": "s", "operator_id": operator, "created": 0.0,
                             "expires": 60.0, "operator_phone": OPERATOR_PHONE})
        return token

    async def synced(self, ledger: RedisCodeLedger) -> dict[str, str]:
        """Ask for a sync and wait for its outcomes."""
        seen = len(self.outcomes)
        ledger.sync()
        await until(lambda: len(self.outcomes) > seen)
        return self.outcomes[-1]


@pytest.fixture
async def ledgers(redis_server: RedisServer  # noqa: F811
                  ) -> AsyncIterator[tuple[RedisCodeLedger, RedisCodeLedger]]:
    """Two processes' ledgers (a and b) on one Redis; their relays are not started."""
    clusters = [Cluster(redis_server.url, name, Hub().deliver, 5.0) for name in "ab"]
    # Connections opened before the races, so that the calls of a race run at once.
    await asyncio.gather(*[cluster.redis.ping() for cluster in clusters for _ in range(RACERS)])
    yield RedisCodeLedger(clusters[0]), RedisCodeLedger(clusters[1])
    for cluster in clusters:
        await cluster.redis.aclose()


async def test_two_processes_claiming_the_same_digits_at_once_one_wins(ledgers) -> None:
    a, b = ledgers
    holders = Holder(a), Holder(b)
    tokens = [holder.hold("1234") for holder in holders]
    outcomes = await asyncio.gather(holders[0].synced(a), holders[1].synced(b))
    assert sorted(o[t] for o, t in zip(outcomes, tokens, strict=True)) == ["claimed", "taken"]


async def test_a_code_is_used_once_however_many_processes_try_at_once(ledgers) -> None:
    a, b = ledgers
    holder = Holder(a)
    token = holder.hold("0042")
    assert (await holder.synced(a))[token] == "claimed"
    found = await asyncio.gather(*[ledger.use("0042") for ledger in (a, b) * (RACERS // 2)])
    used = [record for record in found if record is not None]
    assert len(used) == 1 and used[0]["token"] == token and used[0]["home"] == "a"
    assert (await holder.synced(a))[token] == "used"  # writing it again does not revive it


async def test_a_reissue_step_retires_every_code_at_once(ledgers) -> None:
    a, b = ledgers
    holder = Holder(a)
    token = holder.hold("7777")
    await holder.synced(a)
    await b.retire_all()
    assert await b.use("7777") is None
    assert (await holder.synced(a))[token] == "retired"


async def test_an_operators_codes_are_withdrawn_from_any_process(ledgers) -> None:
    a, b = ledgers
    holder, other = Holder(a), Holder(b)
    mine, theirs = holder.hold("1111", operator="op-1"), holder.hold("2222", operator="op-2")
    await holder.synced(a)
    b.withdraw_operator("op-1")  # op-1 cleared their phone on b
    await other.synced(b)
    outcomes = await holder.synced(a)
    assert (outcomes[mine], outcomes[theirs]) == ("withdrawn", "claimed")
    assert await b.use("1111") is None and (await b.use("2222"))["token"] == theirs


async def test_codes_a_home_no_longer_holds_leave_the_ledger_at_its_next_sync(ledgers) -> None:
    a, b = ledgers
    holder = Holder(a)
    holder.hold("3333")
    await holder.synced(a)
    holder.records.clear()  # withdrawn at home (disabled, blocked, forgotten, restarted)
    await holder.synced(a)
    assert await b.use("3333") is None


async def test_the_tally_is_one_for_every_process(redis_server: RedisServer) -> None:  # noqa: F811
    clients = [redis.Redis.from_url(redis_server.url) for _ in range(2)]
    await asyncio.gather(*[client.ping() for client in clients for _ in range(RACERS)])
    a, b = (RedisTally(client) for client in clients)
    # Twenty checks at once from two processes, three places: three are taken.
    found = await asyncio.gather(*[tally.take("w", 3, 60.0, f"+1555000{n:04d}")
                                   for n, tally in enumerate((a, b) * (RACERS // 2))])
    taken = [ticket for ticket in found if ticket is not None]
    assert len(taken) == 3
    assert await b.take("w", 3, 60.0, "+15550009999") is None  # full, whoever asks
    await a.give_back(taken[1])
    assert len(await b.entries("w", 60.0)) == 2
    assert [await a.count_up("n"), await b.count_up("n")] == [1, 2]
    assert [await a.mark("m", 60.0), await b.mark("m", 60.0), await b.marked("m")] == [
        True, False, True]
    for client in clients:
        await client.aclose()


# ---------------------------------------------------------------- two real processes
@dataclass
class Pair:
    a: LiveHelpProcess  # the home: the user's and the operator's sockets are here
    b: LiveHelpProcess
    record: SessionRecord
    cookie: str  # the operator's


Start = Callable[..., Awaitable[Pair]]


@pytest.fixture
async def start_pair(tmp_path: Path, mongo_uri: str,
                     redis_server: RedisServer) -> AsyncIterator[Start]:  # noqa: F811
    """Starts processes a and b with Twilio voice on, no expiry run within a test (and
    `more` config); stops them."""
    started: list[LiveHelpProcess] = []

    async def start(**more: dict) -> Pair:
        database = f"codes_{secrets.token_hex(4)}"
        store = MongoStore(mongo_uri, database)
        await store.open()
        [record], [operator] = await seed(store, sessions=1, operators=1,
                                          interview="chat_example")
        await store.save_operator_settings(OperatorSettings(
            operator.id, available=True, roles=["advocate"], phone=OPERATOR_PHONE))
        await store.close()
        secret = secrets.token_urlsafe(48)
        for name in "ab":
            started.append(cluster_process(tmp_path / name, name, mongo_uri, database,
                                           redis_server.url, secret,
                                           {"twilio": TWILIO, **NO_EXPIRY_RUN, **more}))
        a, b = started
        return Pair(a, b, record, a.user_cookie(operator))

    yield start
    for process in started:
        # Not a test of shutdown (tests/test_shutdown.py is): SIGKILL also keeps a relay
        # stuck in its stop from costing each test half a minute.
        process.stop(signal.SIGKILL)


@dataclass
class Forwarding:
    monitor: object  # the operator's Monitor socket on a
    user: object  # the user's socket on a
    key: str  # the entry's key
    code: str  # the code on the user's page


async def phone_state(user, wanted: Callable[[dict | None], bool]) -> dict | None:
    """The user's next `state` whose `phone` is as wanted."""
    async with asyncio.timeout(WAIT_SECONDS):
        while not wanted(phone := (await receive(user, "state"))["phone"]):
            pass
    return phone


async def forward(pair: Pair) -> Forwarding:
    """The operator on a switches forwarding on for the user on a; the code shown."""
    monitor = await connect(pair.a.ws_url("ws/monitor"), pair.cookie)
    await receive(monitor, "monitor")
    user = await connect(pair.a.ws_url(f"ws/user/{pair.record.id}"),
                         pair.a.session_cookie(pair.record, "browser-1"))
    await receive(user, "state")
    async with asyncio.timeout(WAIT_SECONDS):
        while (entry := (await receive(monitor, "session"))["session"])[
                "session"] != pair.record.id:
            pass
    monitor.write_message(json.dumps({"type": "phone", "session": entry["key"], "on": True}))
    phone = await phone_state(user, lambda phone: phone is not None)
    return Forwarding(monitor, user, entry["key"], phone["code"])


async def dial(process: LiveHelpProcess, digits: str, caller: str) -> ElementTree.Element:
    """Twilio's signed POST of the digits a caller typed to `process`."""
    return twiml(await post(process.url("voice/code?attempt=1"),
                            call(digits, caller=caller, call_sid=f"CA{secrets.token_hex(4)}")))


def dialled(root: ElementTree.Element) -> list[str]:
    dial_verb = root.find("Dial")
    return [] if dial_verb is None else [number.text for number in dial_verb.iter("Number")]


def another(code: str) -> str:
    """A 4-digit code that is not `code`."""
    return f"{(int(code) + 1) % 10000:04d}"


async def test_a_code_issued_on_a_places_one_call_through_b(start_pair: Start) -> None:
    pair = await start_pair()
    forwarding = await forward(pair)
    root = await dial(pair.b, forwarding.code, "+15005550006")
    assert dialled(root) == [OPERATOR_PHONE]
    assert root.find("Dial").get("callerId") == CENTRAL
    for process in (pair.a, pair.b):  # used once, wherever it is typed again
        again = await dial(process, forwarding.code, "+15005550007")
        assert dialled(again) == [] and says(again)[0] == "That code is not valid."
    await phone_state(forwarding.user, lambda phone: phone is None)
    async with asyncio.timeout(WAIT_SECONDS):
        while not (await receive(forwarding.monitor, "session"))["session"]["phone"][
                "call_connected"]:
            pass
    for ws in (forwarding.user, forwarding.monitor):
        ws.close()


async def test_wrong_codes_on_a_and_b_count_once_reissue_at_a_and_pause_both(
        start_pair: Start) -> None:
    pair = await start_pair()
    forwarding = await forward(pair)
    code, callers = forwarding.code, iter(f"+1555000{n:04d}" for n in range(100))
    for step in range(WRONG_CODE_BUDGET // REISSUE_EVERY_WRONG_CODES):
        for n in range(REISSUE_EVERY_WRONG_CODES):  # one call's worth, on both processes
            root = await dial((pair.b, pair.a)[n % 2], another(code), next(callers))
            assert dialled(root) == []
        if step < WRONG_CODE_BUDGET // REISSUE_EVERY_WRONG_CODES - 1:
            assert PAUSED not in " ".join(says(root))
            old = code  # re-issued: the page at a shows another code
            code = (await phone_state(forwarding.user,
                                      lambda phone, old=old: phone and phone["code"] != old))[
                "code"]
    assert says(root)[0].startswith(f"That code is not valid. {PAUSED}")
    for process in (pair.a, pair.b):
        root = twiml(await post(process.url("voice"), call(caller=next(callers))))
        assert [child.tag for child in root] == ["Say", "Hangup"] and PAUSED in says(root)[0]
    root = await dial(pair.b, code, next(callers))  # even the live code: entry is paused
    assert dialled(root) == [] and PAUSED in says(root)[0]
    for ws in (forwarding.user, forwarding.monitor):
        ws.close()


async def test_a_code_issued_before_redis_restarted_still_works_on_b_after(
        start_pair: Start, redis_server: RedisServer) -> None:  # noqa: F811
    pair = await start_pair()  # no expiry run: only the reconnect can bring the code back
    forwarding = await forward(pair)
    redis_server.stop()
    redis_server.start()  # empty: the code is lost
    client = redis.Redis.from_url(redis_server.url)
    await until(lambda: client.exists(f"livehelp:code:{forwarding.code}"))
    await client.aclose()
    assert dialled(await dial(pair.b, forwarding.code, "+15005550006")) == [OPERATOR_PHONE]
    for ws in (forwarding.user, forwarding.monitor):
        ws.close()


async def test_without_redis_a_caller_is_told_code_entry_is_unavailable_and_the_call_ends(
        start_pair: Start, redis_server: RedisServer) -> None:  # noqa: F811
    pair = await start_pair()
    redis_server.stop()
    for root in (twiml(await post(pair.b.url("voice"), call())),
                 await dial(pair.b, "1234", "+15005550006")):
        assert [child.tag for child in root] == ["Say", "Hangup"]
        assert says(root) == [UNAVAILABLE]
    assert "Traceback" not in pair.b.log_tail(100_000)


async def test_blocking_the_session_on_a_withdraws_its_code_on_b(
        start_pair: Start, redis_server: RedisServer) -> None:  # noqa: F811
    pair = await start_pair()  # no expiry run: the block itself must withdraw the code
    forwarding = await forward(pair)
    forwarding.monitor.write_message(json.dumps({"type": "block", "session": forwarding.key}))
    client = redis.Redis.from_url(redis_server.url)
    await until(lambda: client.hexists(f"livehelp:code:{forwarding.code}", "ended"))
    assert await client.hget(f"livehelp:code:{forwarding.code}", "ended") == b"withdrawn"
    await client.aclose()
    root = await dial(pair.b, forwarding.code, "+15005550006")
    assert dialled(root) == [] and says(root)[0] == "That code is not valid."
    for ws in (forwarding.user, forwarding.monitor):
        ws.close()


async def test_the_codes_of_a_process_that_died_die_with_it(
        start_pair: Start, redis_server: RedisServer) -> None:  # noqa: F811
    pair = await start_pair()
    forwarding = await forward(pair)
    pair.a.stop(signal.SIGKILL)  # b finds it gone within `dead after seconds`
    client = redis.Redis.from_url(redis_server.url)
    await until(lambda: client.hexists(f"livehelp:code:{forwarding.code}", "ended"))
    await client.aclose()
    root = await dial(pair.b, forwarding.code, "+15005550006")
    assert dialled(root) == [] and says(root)[0] == "That code is not valid."
