"""Satisfaction: when a help chat ends (the user turns it off, or an operator closes
it) and an operator wrote in it, the user is asked to rate it, 1 to 5 with an optional
comment, or to say "No thanks". A conversation is asked about once: its rating is
stored once (the store refuses a second), and an answer either way ends the asking.

Asking is on unless the interview said `set_live_help_status(rating=False)`, or the
config's `satisfaction: ask` is false and the interview did not say True. The peer
modes never ask: a conversation shared by several people is nobody's to rate.

An extension of the model (extension.py): it sees every state the user's page is
sent (`decorate_state`, which adds `rating`), and learns from them that a chat was on
and has ended, and who held it. What a user chose lives in the process while their
client does; whether a conversation was rated is read from the store when its page
first connects, so a restart does not ask again for a rated chat.
"""

from __future__ import annotations

from typing import Protocol

from state.livehelp.attention import Attention
from state.livehelp.errors import LiveHelpError
from state.livehelp.extension import Extension
from state.livehelp.hub import Hub
from state.livehelp.records import Client, LiveSession
from state.livehelp.rules import HELP
from state.store.base import Rating, Store, StoreUnavailable

# A comment is a few sentences for the coordinator, not a letter.
MAX_COMMENT_CHARS = 1000
LOWEST_SCORE, HIGHEST_SCORE = 1, 5
# The values of the state's `rating` (docs/protocol.md): show the form, or the
# conversation has its rating. None: nothing to say.
ASK, RATED = "ask", "rated"


class SatisfactionSettings(Protocol):
    ask: bool


class SatisfactionConfig(Protocol):
    satisfaction: SatisfactionSettings


class SatisfactionModel(Protocol):
    store: Store
    hub: Hub
    attention: Attention

    def client(self, key: str) -> Client: ...

    def find_client(self, key: str) -> Client | None: ...

    def session_of(self, client: Client) -> LiveSession: ...

    def user_state(self, client: Client) -> dict: ...


class Satisfaction(Extension):
    def __init__(self, model: SatisfactionModel, config: SatisfactionConfig) -> None:
        self.model = model
        self.config = config
        # Client key -> how far operators had answered its conversation when its chat
        # was last seen on: an operator wrote in this chat when the mark moved past it.
        self._chatting: dict[str, int] = {}
        self._holders: dict[str, str] = {}  # client key -> the operator last seen holding it
        self._turning_off: set[str] = set()  # the user asked to turn chat off
        self._offers: dict[str, str | None] = {}  # conversation -> its holder, not answered yet
        self._rated: set[str] = set()
        self._declined: set[str] = set()
        self._restored: set[str] = set()  # client keys whose conversation the store was asked about

    def asks(self, session: LiveSession) -> bool:
        """Whether the session's help chats are rated when they end."""
        settings = session.settings
        if settings.mode != HELP:
            return False
        return self.config.satisfaction.ask if settings.rating is None else settings.rating

    async def restore(self, client: Client) -> None:
        """The client's page connected: whether its conversation was rated (before a
        restart, or in a process that forgot the client), read once per client."""
        session = self.model.session_of(client)
        if client.key in self._restored or not self.asks(session):
            return
        conversation = session.conversation_of(client)
        if self.model.attention.surely_empty(conversation):
            self._restored.add(client.key)  # nothing said: nothing to have rated
            return
        try:
            rated = await self.model.store.has_rating(conversation)  # state/store/reports.py
        except StoreUnavailable:
            return  # asked again when the page next connects; the store refuses a second one
        self._restored.add(client.key)
        if rated:
            self._rated.add(conversation)
            self._offers.pop(conversation, None)

    def user_turns_off(self, key: str) -> None:
        """The user pressed "Turn off chat" (called just before the model turns it off):
        a chat that ends now ends by their hand."""
        client = self.model.client(key)
        self._turning_off.add(key)
        if client.operator_id:
            self._holders[key] = client.operator_id

    # ------------------------------------------------------------------ the extension
    def decorate_state(self, client: Client, state: dict) -> None:
        session = self.model.session_of(client)
        self._notice(client, session)
        state["rating"] = self.rating_state(client, session)

    def client_forgotten(self, client: Client) -> None:
        # Only help conversations are rated, and a help conversation's id is its client's key.
        key = client.key
        for kept in (self._chatting, self._holders, self._offers):
            kept.pop(key, None)
        for kept_set in (self._turning_off, self._restored, self._rated, self._declined):
            kept_set.discard(key)

    def _notice(self, client: Client, session: LiveSession) -> None:
        """What this state says happened: a chat with operators began, or ended."""
        key = client.key
        closed = bool(client.closed_by)
        turned_off = key in self._turning_off
        self._turning_off.discard(key)
        if client.operator_id:
            self._holders[key] = client.operator_id
        answered = self.model.attention.thread(session.conversation_of(client)).answered_seq
        if client.chat_active and session.operators_chat:
            self._chatting.setdefault(key, answered)
            return
        started_at = self._chatting.pop(key, None)
        if started_at is None or not (closed or turned_off):
            return  # never on, or ended otherwise (offline, blocked, chat no longer offered)
        conversation = session.conversation_of(client)
        if answered > started_at and self.asks(session) and not self._answered(conversation):
            self._offers[conversation] = self._holders.get(key)

    def _answered(self, conversation: str) -> bool:
        return conversation in self._rated or conversation in self._declined

    def rating_state(self, client: Client, session: LiveSession) -> str | None:
        """The state's `rating`: "ask" while a chat that ended waits for its rating (and
        chat is off), "rated" once the conversation has its rating, else None."""
        conversation = session.conversation_of(client)
        if conversation in self._rated:
            return RATED
        if conversation in self._offers and not client.chat_active and self.asks(session):
            return ASK
        return None

    # ------------------------------------------------------------------ the answer
    async def rate(self, key: str, score: int | None, comment: str = "") -> None:
        """The user's answer: a score from 1 to 5 (and a comment), or None for "No thanks"."""
        client = self.model.client(key)
        session = self.model.session_of(client)
        conversation = session.conversation_of(client)
        if conversation in self._rated:
            raise LiveHelpError("already_rated", "You rated this chat already.")
        if self.rating_state(client, session) != ASK:
            raise LiveHelpError("no_rating", "There is no ended chat to rate now.")
        if score is None:
            del self._offers[conversation]
            self._declined.add(conversation)
            self._tell(client)
            return
        if not LOWEST_SCORE <= score <= HIGHEST_SCORE:
            raise LiveHelpError("bad_field", f"Choose a rating from {LOWEST_SCORE} "
                                f"to {HIGHEST_SCORE}.")
        comment = comment.strip()
        if len(comment) > MAX_COMMENT_CHARS:
            raise LiveHelpError("bad_field", f"A comment holds at most {MAX_COMMENT_CHARS:,} "
                                "characters.")
        rating = Rating(conversation, session.id, session.interview, score, comment,
                        operator_id=self._offers[conversation])
        first = await self.model.store.add_rating(rating)
        self._offers.pop(conversation, None)
        self._rated.add(conversation)
        if self.model.find_client(key) is client:  # still there after the store answered
            self._tell(client)
        if not first:  # rated from another page of theirs, or before a restart
            raise LiveHelpError("already_rated", "You rated this chat already.")

    def _tell(self, client: Client) -> None:
        """Every page of this user learns the answer (the form goes from each tab)."""
        self.model.hub.publish(f"client:{client.key}", self.model.user_state(client))
