"""Observe and control over real sockets (docs/protocol.md, PRODUCT.md M9, M10):
every new message type and every refusal."""

from __future__ import annotations

import pytest
import tornado.httpclient

from state.store.base import SessionRecord, new_id
from tests.conftest import LiveServer
from tests.socket_helpers import Person, interviewee, operator

INTERVIEW = "cobrowse_demo"  # screens: about, household, secrets (private + password), review
SENTINEL = "zz_sentinel"  # an unknown type: refused with an `error` whose ref is the type


async def demo_session(server: LiveServer, availability: str = "available") -> SessionRecord:
    record = SessionRecord(id=new_id(), interview=INTERVIEW, live_help={
        "availability": availability, "mode": "help", "partner_roles": ["advocate"]})
    await server.services.store.save_session(record)
    return record


async def user_on(server: LiveServer, record: SessionRecord, screen: str = "about",
                  values: dict | None = None) -> tuple[Person, str]:
    """An interviewee whose page reports `screen`; returns it and its entry key."""
    user = await interviewee(server, record)
    await user.send(type="screen", screen=screen, values=values or {})
    key = next(iter(server.services.livehelp.find_session(record.id).clients))
    # The screen is rendered after a store read; the socket's frames are handled in
    # order, so once a sentinel frame sent after it is refused, the screen is in.
    await user.send(type=SENTINEL)
    reply = await user.receive("error")
    assert reply["ref"] == SENTINEL, f"the screen was refused: {reply}"
    assert key in server.services.cobrowse.screens
    return user, key


async def error(person: Person, code: str) -> dict:
    message = await person.receive("error")
    assert message["code"] == code, message
    return message


async def test_observe_sends_the_whole_screen_at_once_then_each_change(live_server) -> None:
    user, key = await user_on(live_server, await demo_session(live_server), "about",
                              {"first_name": "Ann", "situation": "Two rooms"})
    op = await operator(live_server)
    await op.send(type="observe", session=key)
    first = await op.receive("observe_screen")
    assert first["session"] == key
    assert first["screen"]["id"] == "about"
    assert first["screen"]["question"] == "About you"
    assert [f["name"] for f in first["screen"]["fields"]] == ["first_name", "situation"]
    assert first["screen"]["buttons"] == [{"action": "continue", "label": "Continue"}]
    assert first["values"] == {"first_name": "Ann", "situation": "Two rooms"}

    await user.send(type="field", name="first_name", value="Anna")
    change = await op.receive("observe_field")
    assert change == {"type": "observe_field", "session": key, "name": "first_name", "value": "Anna"}

    await user.send(type="screen", screen="household", values={"housing": "Renting"})
    screen = await op.receive("observe_screen")
    assert screen["screen"]["id"] == "household"
    assert screen["values"] == {"housing": "Renting"}


async def test_interview_text_reaches_the_operator_as_plain_text(live_server) -> None:
    record = await demo_session(live_server)
    record.answers["first_name"] = "<b>Ann</b>"
    await live_server.services.store.save_session(record)
    _, key = await user_on(live_server, record, "about")
    op = await operator(live_server)
    await op.send(type="observe", session=key)
    screen = (await op.receive("observe_screen"))["screen"]
    # Escaped by the sandbox, then turned back into text: the page inserts it with textContent.
    assert screen["subquestion"][-1].endswith("Welcome back, <b>Ann</b>.")


async def test_the_user_is_told_while_observed(live_server) -> None:
    user, key = await user_on(live_server, await demo_session(live_server))
    op = await operator(live_server)
    await op.send(type="observe", session=key)
    assert (await user.until("state", lambda m: m["observed"]))["controlled"] is False
    entry = await op.until("session", lambda m: m["session"]["observers"] == 1)
    assert entry["session"]["controller_id"] is None
    await op.send(type="stop_observe", session=key)
    assert (await op.receive("observe_end"))["session"] == key
    await user.until("state", lambda m: not m["observed"])


@pytest.fixture
def silent_config(config):
    config.notify_user_when_observed = False
    return config


async def test_observation_is_silent_when_configured_off(silent_config, live_server) -> None:
    _, key = await user_on(live_server, await demo_session(live_server))
    op = await operator(live_server)
    await op.send(type="observe", session=key)
    await op.until("session", lambda m: m["session"]["observers"] == 1)
    assert live_server.services.livehelp.user_state(
        live_server.services.livehelp.client(key))["observed"] is False


async def test_private_values_and_other_screens_never_reach_the_operator(live_server) -> None:
    user, key = await user_on(live_server, await demo_session(live_server), "secrets", {
        "reference": "AB-123", "password": "hunter2", "first_name": "Ann", "_xsrf": "x"})
    op = await operator(live_server)
    await op.send(type="observe", session=key)
    snapshot = await op.receive("observe_screen")
    assert snapshot["values"] == {}
    assert [f["private"] for f in snapshot["screen"]["fields"]] == [True, True]
    await user.send(type="field", name="password", value="hunter2")
    await error(user, "private_field")
    await user.send(type="field", name="first_name", value="Ann")
    await error(user, "not_on_screen")
    assert live_server.services.cobrowse.screens[key].values == {}


async def test_a_page_must_report_a_real_screen_first(live_server) -> None:
    user = await interviewee(live_server, await demo_session(live_server))
    await user.send(type="field", name="first_name", value="Ann")
    await error(user, "no_screen")
    await user.send(type="screen", screen="nowhere", values={})
    await error(user, "unknown_screen")
    await user.send(type="screen", values={})
    await error(user, "bad_field")
    await user.send(type="screen", screen="about")
    await user.send(type="field", name="first_name")
    await error(user, "bad_field")
    await user.send(type="field", name="first_name", value=["not", "text"])
    await error(user, "bad_field")


async def test_observe_refusals(live_server) -> None:
    op = await operator(live_server)
    await op.send(type="observe", session="nobody|b:x")
    await error(op, "unknown_session")
    await op.send(type="observe")
    await error(op, "bad_field")

    record = await demo_session(live_server)
    _, key = await user_on(live_server, record)
    record.live_help["availability"] = "unavailable"
    await live_server.services.store.save_session(record)
    live_server.services.livehelp.session_changed(record, "Housing")
    await op.send(type="observe", session=key)
    await error(op, "not_observable")
    await op.send(type="control", session=key)
    await error(op, "not_observable")

    # Ended: the model forgot the client.
    record2 = await demo_session(live_server)
    _, key2 = await user_on(live_server, record2)
    livehelp = live_server.services.livehelp
    livehelp._forget(livehelp.client(key2))
    await op.send(type="observe", session=key2)
    await error(op, "unknown_session")
    assert key2 not in live_server.services.cobrowse.screens


async def test_observe_only_sessions_can_be_observed(live_server) -> None:
    _, key = await user_on(live_server, await demo_session(live_server, "observeonly"))
    op = await operator(live_server)
    await op.send(type="observe", session=key)
    assert (await op.receive("observe_screen"))["screen"]["id"] == "about"


async def test_non_operators_cannot_observe(live_server) -> None:
    user, key = await user_on(live_server, await demo_session(live_server))
    for kind in ("observe", "control", "set_field", "press"):
        await user.send(type=kind, session=key)
        await error(user, "unknown_type")
    plain = await live_server.add_user("user@example.com")
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await live_server.websocket("ws/monitor", await live_server.user_cookie(plain))
    assert refused.value.code == 403


async def test_turning_live_help_off_ends_observation(live_server) -> None:
    record = await demo_session(live_server)
    _, key = await user_on(live_server, record)
    op = await operator(live_server)
    await op.send(type="observe", session=key)
    await op.receive("observe_screen")
    record.live_help["availability"] = "unavailable"
    await live_server.services.store.save_session(record)
    live_server.services.livehelp.session_changed(record, "Housing")
    end = await op.receive("observe_end")
    assert end["session"] == key and end["reason"]
    assert key not in live_server.services.cobrowse.watchers


async def test_closed_page_clears_the_view(live_server) -> None:
    user, key = await user_on(live_server, await demo_session(live_server), "about",
                              {"first_name": "Ann"})
    op = await operator(live_server)
    await op.send(type="observe", session=key)
    await op.receive("observe_screen")
    user.close()
    gone = await op.receive("observe_screen")
    assert gone["screen"] is None and gone["values"] == {}


async def test_control_round_trip(live_server) -> None:
    user, key = await user_on(live_server, await demo_session(live_server), "about")
    op = await operator(live_server)
    await op.send(type="control", session=key)
    # The entry update goes out before the snapshot answering `control`.
    entry = await op.until("session", lambda m: m["session"]["controller_id"] == op.user.id)
    assert entry["session"]["controller_name"] == "Olga"
    assert (await op.receive("observe_screen"))["screen"]["id"] == "about"
    await user.until("state", lambda m: m["controlled"])

    await op.send(type="set_field", session=key, name="first_name", value="Ann")
    assert await user.receive("set_field") == {"type": "set_field", "name": "first_name",
                                               "value": "Ann"}
    assert (await op.receive("observe_field"))["value"] == "Ann"
    await op.send(type="press", session=key, action="continue")
    assert await user.receive("press") == {"type": "press", "action": "continue"}

    await op.send(type="stop_control", session=key)
    await user.until("state", lambda m: not m["controlled"])
    await op.send(type="stop_control", session=key)
    await error(op, "not_controlling")


async def test_control_refusals(live_server) -> None:
    user, key = await user_on(live_server, await demo_session(live_server), "secrets")
    first = await operator(live_server)
    second = await operator(live_server, "second@example.com", first_name="Sam")
    await second.send(type="set_field", session=key, name="reference", value="x")
    await error(second, "not_controlling")
    await first.send(type="control", session=key)
    await first.receive("observe_screen")
    await second.send(type="control", session=key)
    refused = await error(second, "controlled")
    assert "Olga" in refused["message"]
    await second.send(type="observe", session=key)
    await second.receive("observe_screen")
    await second.send(type="set_field", session=key, name="reference", value="x")
    await error(second, "not_controlling")
    await second.send(type="press", session=key, action="continue")
    await error(second, "not_controlling")

    await first.send(type="set_field", session=key, name="reference", value="x")
    await error(first, "private_field")
    await first.send(type="set_field", session=key, name="password", value="x")
    await error(first, "private_field")
    await first.send(type="set_field", session=key, name="first_name", value="x")
    await error(first, "not_on_screen")
    await first.send(type="press", session=key, action="change:about")
    await error(first, "bad_action")
    await user.send(type="screen", screen="household", values={})
    await first.receive("observe_screen")
    await first.send(type="set_field", session=key, name="housing", value="Castle")
    await error(first, "bad_field")
    await first.send(type="set_field", session=key, name="household", value=["Children", "Pets"])
    assert (await user.receive("set_field"))["value"] == ["Children"]


async def test_control_is_released_when_the_socket_drops(live_server) -> None:
    user, key = await user_on(live_server, await demo_session(live_server))
    first = await operator(live_server)
    second = await operator(live_server, "second@example.com", first_name="Sam")
    await first.send(type="control", session=key)
    await user.until("state", lambda m: m["controlled"])
    first.close()
    await user.until("state", lambda m: not m["controlled"], timeout=2.0)
    await second.send(type="control", session=key)
    assert (await second.receive("observe_screen"))["session"] == key


async def test_observe_and_control_are_audited(live_server) -> None:
    _, key = await user_on(live_server, await demo_session(live_server))
    op = await operator(live_server)
    await op.send(type="observe", session=key)
    await op.receive("observe_screen")
    await op.send(type="control", session=key)
    await op.receive("observe_screen")
    await op.send(type="block", session=key)
    await op.until("session", lambda m: m["session"]["blocked"])
    actions = [e.action for e in await live_server.services.store.list_audit()]
    assert {"observe", "control", "block"} <= set(actions)
