"""The interview authors' API (PRODUCT.md C1–C3), without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from state.livehelp import api
from state.livehelp.errors import InterviewContextError
from state.store.base import ChatMessage
from tests.model_helpers import live_record, make_model, make_user


@pytest.fixture
def model(store):
    model, _ = make_model(store)
    return model


@pytest.fixture
def run_in(model):
    """Run a function as interview code of a session (sets the context variable)."""

    def enter(record, chat_log=()):
        api.current_context.set(api.InterviewContext(record, model, "b:browser", list(chat_log)))
        return record

    yield enter
    api.current_context.set(None)


def test_outside_an_interview_is_a_clear_error():
    with pytest.raises(InterviewContextError, match="running interview"):
        api.set_live_help_status(availability="available")


def test_set_all_three(run_in):
    record = run_in(live_record(availability="unavailable", roles=()))
    record.live_help = {}
    api.set_live_help_status(availability="available", mode="peerhelp",
                             partner_roles=["advocate", "family law"])
    assert record.live_help == {"availability": "available", "mode": "peerhelp",
                                "partner_roles": ["advocate", "family law"]}


def test_omitted_arguments_leave_settings_alone(run_in):
    record = run_in(live_record(availability="available", mode="peer", roles=("estates",)))
    api.set_live_help_status(availability="observeonly")
    assert record.live_help == {"availability": "observeonly", "mode": "peer",
                                "partner_roles": ["estates"]}


def test_one_role_as_a_string(run_in):
    record = run_in(live_record())
    api.set_live_help_status(partner_roles="family law")
    assert record.live_help["partner_roles"] == ["family law"]


def test_empty_roles_are_refused(run_in):
    run_in(live_record())
    with pytest.raises(ValueError, match="at least one"):
        api.set_live_help_status(partner_roles=[])


def test_available_without_any_role_is_refused(run_in):
    record = run_in(live_record())
    record.live_help = {}
    with pytest.raises(ValueError, match="at least one partner role"):
        api.set_live_help_status(availability="available")


@pytest.mark.parametrize("arguments", [{"availability": "sometimes"}, {"mode": "chatty"},
                                       {"partner_roles": [3]}])
def test_unknown_values_are_refused(run_in, arguments):
    run_in(live_record())
    with pytest.raises(ValueError):
        api.set_live_help_status(**arguments)


@pytest.mark.parametrize("call", [
    lambda: api.chat_partners_available("advocate", "family law"),
    lambda: api.chat_partners_available(["advocate", "family law"]),
    lambda: api.chat_partners_available(partner_roles=["advocate", "family law"]),
])
async def test_chat_partners_available_accepts_three_spellings(model, run_in, call):
    user = make_user("op@example.com", ("advocate",))
    await model.operators.connected(user)
    await model.operators.set_roles(user.id, ["family law"])
    await model.operators.set_status(user.id, True)
    run_in(live_record())
    assert call().help == 1


async def test_chat_partners_available_counts_peers(model, run_in):
    record = live_record(mode="peer")
    model.client_connected(record, "Demo", "b:ann", None)
    model.client_connected(record, "Demo", "b:bob", None)
    run_in(record)
    partners = api.chat_partners_available()
    assert (partners.help, partners.peer) == (0, 1)


def message(text, minutes, email=None, first=None, last=None):
    return ChatMessage(conversation="c", session_id="s", sender_key="b:x", sender_role="user",
                       text=text, client_id=text, sender_email=email, sender_first_name=first,
                       sender_last_name=last,
                       time=datetime(2026, 1, 5, 15, 0, tzinfo=UTC) + timedelta(minutes=minutes))


def test_chat_log_in_utc(run_in):
    run_in(live_record(), [message("hi", 0), message("there", 1)])
    log = api.get_chat_log(utc=True)
    assert [entry["message"] for entry in log] == ["hi", "there"]
    assert log[0]["datetime"].utcoffset() == timedelta(0)
    assert log[0]["datetime"].hour == 15


def test_chat_log_in_a_named_time_zone(run_in):
    run_in(live_record(), [message("hi", 0)])
    moment = api.get_chat_log(timezone="US/Eastern")[0]["datetime"]
    assert moment.utcoffset() == timedelta(hours=-5) and moment.hour == 10


def test_chat_log_default_is_timezone_aware(run_in):
    run_in(live_record(), [message("hi", 0)])
    assert api.get_chat_log()[0]["datetime"].tzinfo is not None


def test_chat_log_bad_zone_is_a_clear_error(run_in):
    run_in(live_record(), [message("hi", 0)])
    with pytest.raises(ValueError, match="unknown time zone"):
        api.get_chat_log(timezone="Mars/Olympus")


def test_anonymous_sender_has_no_names(run_in):
    run_in(live_record(), [message("hi", 0)])
    entry = api.get_chat_log()[0]
    assert entry["user_email"] is None
    assert entry["user_first_name"] is None and entry["user_last_name"] is None


async def test_signed_in_sender_without_names_has_empty_names(model, run_in, tmp_path):
    operator = make_user("op@example.com", ("advocate",))
    await model.operators.connected(operator)
    await model.operators.set_roles(operator.id, ["advocate"])
    await model.operators.set_status(operator.id, True)
    record = live_record()
    user = make_user("ann@example.com")
    client = model.client_connected(record, "Demo", f"u:{user.id}", user)
    model.activate(client.key)
    stored = await model.chat.user_chat(client.key, "c1", "hello")
    run_in(record, [stored])
    entry = api.get_chat_log()[0]
    assert entry["user_email"] == "ann@example.com"
    assert entry["user_first_name"] == "" and entry["user_last_name"] == ""
