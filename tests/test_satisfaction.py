"""Satisfaction ratings (state/livehelp/satisfaction.py): when a help chat is offered
for rating, never twice, never in the peer modes, per interview and by config; and
`rate` over the user's socket (docs/protocol.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from state.config import SatisfactionFile
from state.livehelp import api
from state.livehelp.errors import LiveHelpError
from state.livehelp.satisfaction import Satisfaction
from state.store.base import utcnow
from tests.model_helpers import Inbox, live_record, make_model, make_user
from tests.socket_helpers import chatting, interviewee
from tests.test_sockets import until_sentinel


def rated_model(store, **config):
    """A model with the satisfaction extension, as server.make_services builds it."""
    model, _ = make_model(store, **config)
    satisfaction = Satisfaction(model, model.config)
    model.add_extension(satisfaction)
    return model, satisfaction


async def an_operator(model, email="olga@example.org"):
    user = make_user(email, ("advocate",), first=email.split("@")[0].title())
    await model.operators.connected(user)
    await model.operators.set_roles(user.id, ["advocate"])
    await model.operators.set_status(user.id, True)
    return user


async def a_chat(model, record=None, answered=True, participant="b:ann"):
    """A user chatting with an operator who answered (unless not `answered`)."""
    operator = await an_operator(model)
    record = record or live_record()
    await model.store.save_session(record)
    client = model.client_connected(record, "Demo", participant, None)
    model.activate(client.key)
    await model.chat.user_chat(client.key, "u1", "My landlord kept the deposit")
    if answered:
        await model.chat.operator_chat(operator.id, client.key, "o1", "Let us look at it")
    return client, operator


def rating(model, client):
    return model.user_state(client)["rating"]


def turn_off(model, satisfaction, client):
    """What the user socket does on `deactivate`."""
    satisfaction.user_turns_off(client.key)
    model.deactivate(client.key)


# -- when it is asked -----------------------------------------------------------------

async def test_a_chat_the_user_turns_off_is_offered_for_rating(store):
    model, satisfaction = rated_model(store)
    client, _ = await a_chat(model)
    assert rating(model, client) is None  # not while chatting
    inbox = Inbox()
    model.hub.subscribe(f"client:{client.key}", inbox)
    turn_off(model, satisfaction, client)
    assert inbox.of_type("state")[-1]["rating"] == "ask"


async def test_a_chat_an_operator_closes_is_offered_and_the_rating_names_its_holder(store):
    model, satisfaction = rated_model(store)
    client, olga = await a_chat(model)
    await model.handover.close(olga.id, client.key)
    assert rating(model, client) == "ask"
    await satisfaction.rate(client.key, 4, "  Quick and kind  ")
    since = utcnow() - timedelta(minutes=1)
    stored, = await store.list_ratings(since, since + timedelta(minutes=2))
    assert (stored.conversation, stored.session_id, stored.interview, stored.score,
            stored.comment, stored.operator_id) == (
        client.key, client.session_id, "demo", 4, "Quick and kind", olga.id)
    assert rating(model, client) == "rated"


async def test_a_chat_no_operator_wrote_in_is_not_offered(store):
    model, satisfaction = rated_model(store)
    client, _ = await a_chat(model, answered=False)
    turn_off(model, satisfaction, client)
    assert rating(model, client) is None


async def test_a_chat_that_ends_otherwise_is_not_offered(store):
    """Blocked by an operator: neither the user nor an operator ended the chat."""
    model, _ = rated_model(store)
    client, _ = await a_chat(model)
    await model.set_blocked(client.key, True)
    assert not client.chat_active and rating(model, client) is None


async def test_only_a_reply_in_this_chat_counts(store):
    """An answer in an earlier chat of the same conversation does not make a new,
    unanswered one ratable."""
    model, satisfaction = rated_model(store)
    client, _ = await a_chat(model)
    model.deactivate(client.key)  # not by the user's hand (the interview's, say): not offered
    model.activate(client.key)
    await model.chat.user_chat(client.key, "u2", "Anyone there?")
    turn_off(model, satisfaction, client)
    assert rating(model, client) is None


# -- never twice -----------------------------------------------------------------------

async def test_a_rated_conversation_is_never_asked_again(store):
    model, satisfaction = rated_model(store)
    client, olga = await a_chat(model)
    turn_off(model, satisfaction, client)
    await satisfaction.rate(client.key, 5)
    model.activate(client.key)  # a second chat in the same conversation
    await model.chat.operator_chat(olga.id, client.key, "o2", "Anything else?")
    turn_off(model, satisfaction, client)
    assert rating(model, client) == "rated"
    with pytest.raises(LiveHelpError) as refused:
        await satisfaction.rate(client.key, 1)
    assert (refused.value.code, refused.value.message) == (
        "already_rated", "You rated this chat already.")


async def test_no_thanks_ends_the_asking_too(store):
    model, satisfaction = rated_model(store)
    client, olga = await a_chat(model)
    turn_off(model, satisfaction, client)
    await satisfaction.rate(client.key, None)
    assert rating(model, client) is None
    model.activate(client.key)
    await model.chat.operator_chat(olga.id, client.key, "o2", "Anything else?")
    turn_off(model, satisfaction, client)
    assert rating(model, client) is None
    assert await store.has_rating(client.key) is False


async def test_the_offer_waits_while_a_new_chat_runs_and_comes_back_after(store):
    model, satisfaction = rated_model(store)
    client, _ = await a_chat(model)
    turn_off(model, satisfaction, client)
    model.activate(client.key)
    assert rating(model, client) is None
    turn_off(model, satisfaction, client)
    assert rating(model, client) == "ask"


async def test_a_conversation_rated_before_a_restart_is_not_asked_about(store):
    """The store keeps the rating: a new process learns it when the page connects."""
    first, satisfaction = rated_model(store)
    client, _ = await a_chat(first)
    turn_off(first, satisfaction, client)
    await satisfaction.rate(client.key, 3)
    record = live_record()
    record.id = client.session_id
    again, satisfaction = rated_model(store)
    client = again.client_connected(record, "Demo", client.participant, None)
    await satisfaction.restore(client)
    assert rating(again, client) == "rated"
    with pytest.raises(LiveHelpError, match="already"):
        await satisfaction.rate(client.key, 3)


async def test_the_store_refuses_a_second_rating_the_model_did_not_know_of(store):
    """After a restart whose look-up failed (the store was down as the page connected),
    the chat is asked about again; the store keeps the first rating and the user is told."""
    first, satisfaction = rated_model(store)
    client, _ = await a_chat(first)
    turn_off(first, satisfaction, client)
    await satisfaction.rate(client.key, 5)
    record = live_record()
    record.id = client.session_id
    again, satisfaction = rated_model(store)
    client, _ = await a_chat(again, record, participant=client.participant)  # no restore()
    turn_off(again, satisfaction, client)
    assert rating(again, client) == "ask"
    with pytest.raises(LiveHelpError) as refused:
        await satisfaction.rate(client.key, 2)
    assert refused.value.code == "already_rated" and rating(again, client) == "rated"
    since = utcnow() - timedelta(minutes=1)
    assert [r.score for r in await store.list_ratings(since, since + timedelta(minutes=2))] == [5]


# -- who is asked ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["peer", "peerhelp"])
async def test_the_peer_modes_never_ask(store, mode):
    model, satisfaction = rated_model(store)
    record = live_record(mode=mode)
    client, olga = await a_chat(model, record, answered=False)
    if mode == "peerhelp":
        await model.chat.operator_chat(olga.id, client.key, "o1", "Hello both")
    turn_off(model, satisfaction, client)
    assert rating(model, client) is None


async def test_an_interview_may_turn_rating_off(store):
    model, satisfaction = rated_model(store)
    record = live_record()
    record.live_help["rating"] = False
    client, _ = await a_chat(model, record)
    turn_off(model, satisfaction, client)
    assert rating(model, client) is None


async def test_the_config_may_turn_rating_off_and_an_interview_back_on(store):
    model, satisfaction = rated_model(store, satisfaction=SatisfactionFile(ask=False))
    client, _ = await a_chat(model)
    turn_off(model, satisfaction, client)
    assert rating(model, client) is None
    record = live_record()
    record.live_help["rating"] = True
    asked, _ = await a_chat(model, record, participant="b:bob")
    turn_off(model, satisfaction, asked)
    assert rating(model, asked) == "ask"


def test_set_live_help_status_takes_rating(store):
    model, _ = make_model(store)
    record = live_record()
    api.current_context.set(api.InterviewContext(record, model, "b:browser"))
    try:
        api.set_live_help_status(rating=False)
        assert record.live_help["rating"] is False
        api.set_live_help_status(availability="available")  # left alone when not given
        assert record.live_help["rating"] is False
        with pytest.raises(ValueError, match="rating must be True or False"):
            api.set_live_help_status(rating="no")
    finally:
        api.current_context.set(None)


# -- what a rating may be -----------------------------------------------------------------

@pytest.mark.parametrize(("score", "comment", "words"), [
    (0, "", "Choose a rating from 1 to 5."),
    (6, "", "Choose a rating from 1 to 5."),
    (3, "x" * 1001, "A comment holds at most 1,000 characters."),
])
async def test_a_rating_out_of_bounds_is_refused_in_words(store, score, comment, words):
    model, satisfaction = rated_model(store)
    client, _ = await a_chat(model)
    turn_off(model, satisfaction, client)
    with pytest.raises(LiveHelpError) as refused:
        await satisfaction.rate(client.key, score, comment)
    assert (refused.value.code, refused.value.message) == ("bad_field", words)
    assert rating(model, client) == "ask"


async def test_nothing_to_rate_is_refused(store):
    model, satisfaction = rated_model(store)
    client, _ = await a_chat(model)
    with pytest.raises(LiveHelpError) as refused:
        await satisfaction.rate(client.key, 5)  # the chat is still on
    assert refused.value.code == "no_rating"


# -- over the wire ---------------------------------------------------------------------------

async def test_rate_over_the_wire_after_the_operator_closes(live_server):
    record, user, olga, entry = await chatting(live_server, browser="ann")
    await user.send(type="chat", client_id="u1", text="Hello?")
    await olga.send(type="chat", session=entry["key"], client_id="o1", text="Hello, Ann")
    await user.until("chat", lambda m: m["role"] == "operator")
    await olga.send(type="close_chat", session=entry["key"])
    asked = await user.until("state", lambda m: m["closed_by"] == "Olga")
    assert asked["rating"] == "ask"

    await user.send(type="rate", score=4, comment="Helpful")
    assert (await user.until("state", lambda m: True))["rating"] == "rated"
    await user.send(type="rate", score=5, comment="")
    refused = await user.until("error", lambda m: True)
    assert (refused["code"], refused["message"], refused["ref"]) == (
        "already_rated", "You rated this chat already.", "rate")
    stored = await live_server.services.store.list_ratings(
        utcnow() - timedelta(minutes=1), utcnow() + timedelta(minutes=1))
    assert [(r.score, r.comment, r.operator_id) for r in stored] == [
        (4, "Helpful", olga.user.id)]

    user.close()  # a reload: the state knows the conversation is rated
    again = await interviewee(live_server, record, browser="ann")
    await again.send(type="hello", last_seq=0)
    states = [m for m in await until_sentinel(again) if m["type"] == "state"]
    assert states and all(state["rating"] == "rated" for state in states)


async def test_no_thanks_over_the_wire_and_a_bad_score(live_server):
    _, user, olga, entry = await chatting(live_server)
    await olga.send(type="chat", session=entry["key"], client_id="o1", text="Hello")
    await user.until("chat", lambda m: m["role"] == "operator")
    await user.send(type="deactivate")
    assert (await user.until("state", lambda m: not m["active"]))["rating"] == "ask"
    await user.send(type="rate", score="five")
    refused = await user.until("error", lambda m: True)
    assert (refused["code"], refused["message"]) == ("bad_field", "'score' must be a whole number or null")
    await user.send(type="rate", score=None)
    assert (await user.until("state", lambda m: True))["rating"] is None
    assert await live_server.services.store.has_rating(entry["conversation"]) is False
