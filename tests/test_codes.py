"""Access codes and the caller limiter, driven through the model with an injected clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from state.config import Config, TwilioConfig
from state.livehelp.errors import LiveHelpError
from state.livehelp.hub import Hub
from state.livehelp.model import LiveHelp
from state.livehelp.records import Client
from state.phone.codes import CALL_CONNECTED_SECONDS, CODE_SPACE, AccessCodes
from state.phone.limits import (
    ACCEPTED_DAILY_HIT_CHANCE,
    CALLER_BLOCK_SECONDS,
    MAX_CALLER_FAILURES,
    PLANNED_LIVE_CODES,
    REISSUE_EVERY_WRONG_CODES,
    WRONG_CODE_BUDGET,
    WRONG_CODE_WINDOW_SECONDS,
    CallerLimiter,
    checks_per_day,
    daily_hit_chance,
)
from state.store.base import SessionRecord, User, new_id
from tests.clock import FakeClock

CENTRAL = "+12762410114"
OPERATOR_PHONE = "+14155552671"
CODE_MINUTES = 5.0


@dataclass(eq=False)
class Inbox:
    """Collects what the hub publishes to one channel."""

    messages: list[dict] = field(default_factory=list)

    def __call__(self, message: dict) -> None:
        self.messages.append(message)


@dataclass
class World:
    livehelp: LiveHelp
    codes: AccessCodes
    clock: FakeClock

    def add_client(self) -> Client:
        record = SessionRecord(id=new_id(), interview="demo", live_help={
            "availability": "available", "mode": "help", "partner_roles": ["advocate"]})
        return self.livehelp.client_connected(record, "Demo interview", f"b:{new_id()}", None)

    async def add_operator(self, phone: str = OPERATOR_PHONE) -> User:
        user = User(id=new_id(), email=f"{new_id()}@example.com", password_hash="x",
                    privileges=["advocate"])
        operator = await self.livehelp.operators.connected(user)
        operator.settings.phone = phone
        return user

    def inbox(self, channel: str) -> Inbox:
        inbox = Inbox()
        self.livehelp.hub.subscribe(channel, inbox)
        return inbox


@pytest.fixture
def world(store) -> World:
    config = Config(twilio=TwilioConfig(voice=True, auth_token="t", number=CENTRAL,
                                        code_minutes=CODE_MINUTES))
    livehelp = LiveHelp(store, Hub(), config)
    clock = FakeClock()
    codes = AccessCodes(livehelp, config.twilio, clock=clock)
    livehelp.add_extension(codes)
    return World(livehelp, codes, clock)


async def test_enable_gives_a_four_digit_code_expiring_after_the_configured_minutes(world):
    client, operator = world.add_client(), await world.add_operator()
    access = world.codes.enable(client.key, operator.id)
    assert len(access.code) == 4 and access.code.isdigit()
    assert access.expires == world.clock.now + CODE_MINUTES * 60
    assert (access.session_id, access.operator_id) == (client.session_id, operator.id)
    assert access.operator_phone == OPERATOR_PHONE
    assert world.codes.for_client(client.key) is access


async def test_live_codes_are_unique(world, monkeypatch):
    operator = await world.add_operator()
    first = world.codes.enable(world.add_client().key, operator.id)
    draws = iter([int(first.code), int(first.code), 42])
    monkeypatch.setattr("state.phone.codes.secrets.randbelow", lambda _n: next(draws))
    second = world.codes.enable(world.add_client().key, operator.id)
    assert second.code == "0042"


async def test_many_codes_never_collide(world):
    operator = await world.add_operator()
    codes = {world.codes.enable(world.add_client().key, operator.id).code for _ in range(300)}
    assert len(codes) == 300


async def test_enable_again_replaces_the_earlier_code(world):
    client, operator = world.add_client(), await world.add_operator()
    old = world.codes.enable(client.key, operator.id)
    new = world.codes.enable(client.key, operator.id)
    assert new.code != old.code
    assert await world.codes.use(old.code) is None
    assert await world.codes.use(new.code) is new


async def test_the_user_state_shows_number_tel_code_and_expiry(world):
    client, operator = world.add_client(), await world.add_operator()
    page = world.inbox(f"client:{client.key}")
    access = world.codes.enable(client.key, operator.id)
    phone = page.messages[-1]["phone"]
    assert phone == {"number": "+1 276-241-0114", "tel": CENTRAL, "code": access.code,
                     "expires": access.expires_iso}
    assert access.expires_iso.endswith("+00:00")


async def test_the_monitor_entry_shows_forwarding_and_its_operator(world):
    client, operator = world.add_client(), await world.add_operator()
    assert world.livehelp.entry(client)["phone"] == {
        "forwarding": False, "operator_id": None, "call_connected": False}
    monitor = world.inbox("monitor")
    world.codes.enable(client.key, operator.id)
    assert monitor.messages[-1]["session"]["phone"] == {
        "forwarding": True, "operator_id": operator.id, "call_connected": False}


async def test_use_returns_the_code_once_and_kills_it(world):
    client, operator = world.add_client(), await world.add_operator()
    access = world.codes.enable(client.key, operator.id)
    assert await world.codes.use(access.code) is access
    assert await world.codes.use(access.code) is None
    assert world.codes.for_client(client.key) is None
    assert world.livehelp.user_state(client)["phone"] is None


async def test_use_marks_call_connected_for_a_few_minutes(world):
    client, operator = world.add_client(), await world.add_operator()
    monitor = world.inbox("monitor")
    await world.codes.use(world.codes.enable(client.key, operator.id).code)
    assert monitor.messages[-1]["session"]["phone"] == {
        "forwarding": False, "operator_id": operator.id, "call_connected": True}
    world.clock.advance(CALL_CONNECTED_SECONDS)
    world.codes.expire_codes()
    assert monitor.messages[-1]["session"]["phone"]["call_connected"] is False


async def test_unknown_code_is_refused(world):
    assert await world.codes.use("0000") is None


async def test_disable_kills_the_code(world):
    client, operator = world.add_client(), await world.add_operator()
    page = world.inbox(f"client:{client.key}")
    access = world.codes.enable(client.key, operator.id)
    assert world.codes.disable(client.key) is True
    assert page.messages[-1]["phone"] is None
    assert await world.codes.use(access.code) is None
    assert world.codes.disable(client.key) is False


async def test_code_is_live_until_its_expiry(world):
    client, operator = world.add_client(), await world.add_operator()
    access = world.codes.enable(client.key, operator.id)
    world.clock.advance(CODE_MINUTES * 60 - 1)
    assert await world.codes.use(access.code) is access


async def test_an_expired_code_is_refused_even_before_the_job_runs(world):
    client, operator = world.add_client(), await world.add_operator()
    access = world.codes.enable(client.key, operator.id)
    world.clock.advance(CODE_MINUTES * 60)
    assert await world.codes.use(access.code) is None


async def test_expiry_job_removes_expired_codes_and_publishes_their_sessions(world):
    operator = await world.add_operator()
    expiring, staying = world.add_client(), world.add_client()
    old = world.codes.enable(expiring.key, operator.id)
    world.clock.advance(60)
    new = world.codes.enable(staying.key, operator.id)
    expiring_page = world.inbox(f"client:{expiring.key}")
    staying_page = world.inbox(f"client:{staying.key}")
    world.clock.advance(CODE_MINUTES * 60 - 30)
    world.codes.expire_codes()
    assert expiring_page.messages[-1]["phone"] is None
    assert staying_page.messages == []  # an untouched session is not re-published
    assert await world.codes.use(old.code) is None
    assert await world.codes.use(new.code) is new


async def test_expiry_job_publishes_nothing_when_nothing_expired(world):
    client, operator = world.add_client(), await world.add_operator()
    world.codes.enable(client.key, operator.id)
    page = world.inbox(f"client:{client.key}")
    world.codes.expire_codes()
    assert page.messages == []


async def test_enable_is_refused_without_an_operator_phone(world):
    client, operator = world.add_client(), await world.add_operator(phone="")
    with pytest.raises(LiveHelpError) as refused:
        world.codes.enable(client.key, operator.id)
    assert refused.value.code == "no_phone"


async def test_enable_is_refused_with_an_invalid_operator_phone(world):
    client, operator = world.add_client(), await world.add_operator(phone="+1 415 555 2671")
    with pytest.raises(LiveHelpError) as refused:
        world.codes.enable(client.key, operator.id)
    assert refused.value.code == "bad_phone"
    assert "+14155552671" in refused.value.message  # how to write it instead


async def test_enable_is_refused_for_an_unknown_client(world):
    operator = await world.add_operator()
    with pytest.raises(LiveHelpError) as refused:
        world.codes.enable("nobody|b:x", operator.id)
    assert refused.value.code == "unknown_session"


async def test_enable_is_refused_for_a_blocked_session(world, store):
    client, operator = world.add_client(), await world.add_operator()
    await store.save_session(SessionRecord(id=client.session_id, interview="demo"))
    await world.livehelp.set_blocked(client.key, True)
    with pytest.raises(LiveHelpError) as refused:
        world.codes.enable(client.key, operator.id)
    assert refused.value.code == "blocked"


async def test_blocking_a_session_kills_its_code(world, store):
    client, operator = world.add_client(), await world.add_operator()
    await store.save_session(SessionRecord(id=client.session_id, interview="demo"))
    access = world.codes.enable(client.key, operator.id)
    await world.livehelp.set_blocked(client.key, True)
    assert world.livehelp.user_state(client)["phone"] is None
    assert await world.codes.use(access.code) is None


async def test_enable_is_refused_when_voice_is_off(world):
    client, operator = world.add_client(), await world.add_operator()
    world.livehelp.config.twilio.voice = False
    with pytest.raises(LiveHelpError) as refused:
        world.codes.enable(client.key, operator.id)
    assert refused.value.code == "voice_off"
    assert world.livehelp.entry(client)["phone"] is None
    assert world.livehelp.user_state(client)["phone"] is None


async def test_operator_number_follows_a_changed_phone(world):
    client, operator = world.add_client(), await world.add_operator()
    access = world.codes.enable(client.key, operator.id)
    world.livehelp.operator(operator.id).settings.phone = "+442071838750"
    assert world.codes.operator_number(access) == "+442071838750"


async def test_operator_number_is_none_once_the_operator_cleared_it(world):
    client, operator = world.add_client(), await world.add_operator()
    access = world.codes.enable(client.key, operator.id)
    world.livehelp.operator(operator.id).settings.phone = ""
    assert world.codes.operator_number(access) is None


async def test_disable_operator_withdraws_only_that_operators_codes(world):
    first, second = await world.add_operator(), await world.add_operator()
    mine = world.codes.enable(world.add_client().key, first.id)
    theirs = world.codes.enable(world.add_client().key, second.id)
    assert world.codes.disable_operator(first.id) == 1
    assert await world.codes.use(mine.code) is None
    assert await world.codes.use(theirs.code) is theirs


async def fail(limiter: CallerLimiter, caller: str) -> bool:
    """One wrong code from `caller`, counted as AccessCodes.attempt counts it."""
    assert await limiter.take(caller) is not None
    return await limiter.failed(caller)


async def test_limiter_refuses_a_caller_after_ten_failures_within_an_hour():
    clock = FakeClock()
    limiter = CallerLimiter(clock=clock)
    for _ in range(MAX_CALLER_FAILURES - 1):
        assert await fail(limiter, "+15550001111") is False
        clock.advance(60)
    assert not await limiter.refused("+15550001111")
    assert await fail(limiter, "+15550001111") is True
    assert await limiter.refused("+15550001111")
    assert not await limiter.refused("+15550002222")


async def test_limiter_lets_the_caller_back_after_an_hour():
    clock = FakeClock()
    limiter = CallerLimiter(clock=clock)
    for _ in range(MAX_CALLER_FAILURES):
        await fail(limiter, "+15550001111")
    clock.advance(CALLER_BLOCK_SECONDS - 1)
    assert await limiter.refused("+15550001111")
    clock.advance(1)
    assert not await limiter.refused("+15550001111")
    assert await limiter.failures("+15550001111") == 0


async def test_limiter_forgets_failures_older_than_an_hour():
    clock = FakeClock()
    limiter = CallerLimiter(clock=clock)
    for _ in range(MAX_CALLER_FAILURES - 1):
        await fail(limiter, "+15550001111")
    clock.advance(3600)
    assert await fail(limiter, "+15550001111") is False
    assert await limiter.failures("+15550001111") == 1


async def test_limiter_prune_drops_stale_callers():
    clock = FakeClock()
    limiter = CallerLimiter(clock=clock)
    await fail(limiter, "+15550001111")
    clock.advance(3600)
    limiter.prune()
    assert limiter.tally._windows == {}


# ---------------------------------------------------------------- server-wide budget
def number(n: int) -> str:
    """The n-th of many caller numbers, as an attacker who rotates `From` has."""
    return f"+1555{n:07d}"


def not_live(world: World) -> str:
    """A 4-digit code that is no live code right now: a sure wrong guess."""
    live = set(world.codes._by_code)
    return next(code for code in (f"{n:04d}" for n in range(CODE_SPACE)) if code not in live)


async def guess_wrong(world: World, times: int, first: int = 0) -> list:
    """`times` wrong codes, each from a different number; the attempts."""
    return [await world.codes.attempt(not_live(world), number(first + n)) for n in range(times)]


def test_the_limits_keep_a_guessers_daily_chance_below_one_percent():
    checks = checks_per_day()
    assert checks == WRONG_CODE_BUDGET  # the window is one day
    independent = 1 - (1 - PLANNED_LIVE_CODES / CODE_SPACE) ** checks
    assert independent <= ACCEPTED_DAILY_HIT_CHANCE
    assert daily_hit_chance(PLANNED_LIVE_CODES, CODE_SPACE, checks) <= ACCEPTED_DAILY_HIT_CHANCE
    assert REISSUE_EVERY_WRONG_CODES <= WRONG_CODE_BUDGET
    assert checks_per_day(3, 5 * 3600) == 15  # 24 hours span parts of five 5-hour windows


async def test_the_budget_trips_after_b_wrong_codes_from_b_different_numbers(world):
    client, operator = world.add_client(), await world.add_operator()
    world.codes.enable(client.key, operator.id)
    before = await guess_wrong(world, WRONG_CODE_BUDGET - 1)
    assert [a.paused for a in before] == [False] * (WRONG_CODE_BUDGET - 1)
    assert await world.codes.gate(number(999)) is None
    last = await world.codes.attempt(not_live(world), number(WRONG_CODE_BUDGET))
    assert last.wrong and last.paused and not last.caller_refused
    assert f"{WRONG_CODE_BUDGET} wrong access codes" in last.report
    assert f"from {WRONG_CODE_BUDGET} caller numbers" in last.report
    assert (await world.codes.gate(number(999))).paused
    live = world.codes.for_client(client.key)
    refused = await world.codes.attempt(live.code, number(998))
    assert refused.paused and refused.access is None and not refused.wrong
    assert world.codes.for_client(client.key) is live  # not checked, so not used


async def test_every_live_code_is_reissued_after_a_few_wrong_codes(world):
    operator = await world.add_operator()
    clients = [world.add_client(), world.add_client()]
    old = [world.codes.enable(c.key, operator.id) for c in clients]
    pages = [world.inbox(f"client:{c.key}") for c in clients]
    monitor = world.inbox("monitor")
    await guess_wrong(world, REISSUE_EVERY_WRONG_CODES - 1)
    assert [world.codes.for_client(c.key) for c in clients] == old
    await guess_wrong(world, 1, first=100)
    new = [world.codes.for_client(c.key) for c in clients]
    assert all(n.code != o.code for n, o in zip(new, old, strict=True))
    assert [n.expires for n in new] == [o.expires for o in old]
    for page, access in zip(pages, new, strict=True):
        assert page.messages[-1]["phone"]["code"] == access.code
    assert {m["session"]["key"] for m in monitor.messages} == {c.key for c in clients}
    assert await world.codes.use(old[0].code) is None
    assert await world.codes.use(new[1].code) is new[1]


async def test_reissue_does_not_revive_an_expired_code(world):
    operator = await world.add_operator()
    expired, live = world.add_client(), world.add_client()
    world.codes.enable(expired.key, operator.id)
    world.clock.advance(60)
    old = world.codes.enable(live.key, operator.id)
    world.clock.advance(CODE_MINUTES * 60 - 30)  # the first code expired, the job not yet run
    page = world.inbox(f"client:{expired.key}")
    await guess_wrong(world, REISSUE_EVERY_WRONG_CODES)
    assert page.messages[-1]["phone"] is None
    assert world.codes.for_client(expired.key) is None
    assert world.codes.for_client(live.key).code != old.code
    assert len(world.codes._by_code) == 1


async def test_code_entry_recovers_once_the_window_has_passed(world):
    client, operator = world.add_client(), await world.add_operator()
    await guess_wrong(world, WRONG_CODE_BUDGET)
    world.clock.advance(WRONG_CODE_WINDOW_SECONDS - 1)
    assert (await world.codes.gate(number(999))).paused
    world.clock.advance(1)
    assert await world.codes.gate(number(999)) is None
    access = world.codes.enable(client.key, operator.id)
    assert (await world.codes.attempt(access.code, number(999))).access is access


async def test_an_honest_caller_with_the_right_code_before_the_budget_trips_is_connected(world):
    client, operator = world.add_client(), await world.add_operator()
    world.codes.enable(client.key, operator.id)
    await guess_wrong(world, WRONG_CODE_BUDGET - 1)
    access = world.codes.for_client(client.key)
    honest = await world.codes.attempt(access.code, "+15005550006")
    assert honest.access is access and not honest.paused
    assert (await world.codes.budget.spent()) == WRONG_CODE_BUDGET - 1  # a right code costs nothing
    assert (await guess_wrong(world, 1, first=100))[0].paused


async def test_entries_shorter_than_a_code_do_not_spend_the_budget(world):
    attempts = [await world.codes.attempt("12", number(n)) for n in range(WRONG_CODE_BUDGET)]
    assert all(a.wrong and not a.paused for a in attempts)
    assert await world.codes.limiter.failures(number(0)) == 1  # the caller's own count still holds
    assert (await guess_wrong(world, WRONG_CODE_BUDGET, first=100))[-1].paused


async def test_a_sustained_attack_is_reported_once_per_window(world):
    assert (await guess_wrong(world, 1))[0].report is None
    world.clock.advance(3600)
    first = await guess_wrong(world, WRONG_CODE_BUDGET - 1, first=10)
    assert [a.report is not None for a in first] == [False] * (WRONG_CODE_BUDGET - 2) + [True]
    world.clock.advance(WRONG_CODE_WINDOW_SECONDS - 3600)  # the very first wrong code left
    assert await world.codes.gate(number(999)) is None
    again = (await guess_wrong(world, 1, first=100))[0]
    assert again.paused and again.report is None  # the pause of this window was reported
    world.clock.advance(3600)  # a window after the report
    later = await guess_wrong(world, WRONG_CODE_BUDGET - 1, first=200)
    assert later[-1].paused and later[-1].report is not None
