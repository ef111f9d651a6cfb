"""What an interviewee's page is told (`state`, docs/protocol.md): the chat icon, the
Help tab's sentences, the place in line. Built from the model; changes nothing in it
but the note of which place each waiting user was last told."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from state.livehelp.errors import LiveHelpError
from state.livehelp.extension import Extension
from state.livehelp.hub import Hub
from state.livehelp.left import LeftMessages
from state.livehelp.records import Client, LiveSession, Operator
from state.livehelp.routing import Routing

# A free place is given at once; the places of those still in line are told this
# often, a hundred at a time, not once per place freed (the server's periodic job).
TELL_PLACES_SECONDS = 0.25


class ViewSettings(Protocol):
    max_chat_chars: int


class UserViewModel(Protocol):
    hub: Hub
    config: ViewSettings
    routing: Routing
    left: LeftMessages

    def find_client(self, key: str) -> Client | None: ...

    def find_operator(self, user_id: str) -> Operator | None: ...

    def session_of(self, client: Client) -> LiveSession: ...

    def partners_available(self, session_id: str | None,
                           roles: Iterable[str]) -> tuple[int, int]: ...

    def refusal_to_activate(self, client: Client) -> LiveHelpError | None: ...


class UserView:
    def __init__(self, model: UserViewModel, extensions: list[Extension]) -> None:
        self.model = model
        self.extensions = extensions  # the model's list: extensions added later count
        self._told_places: dict[str, int] = {}  # client key -> place last told

    def state(self, client: Client) -> dict:
        """What the interviewee's page needs to draw the chat icon and Help tab."""
        model = self.model
        session = model.session_of(client)
        help_count, peer_count = model.partners_available(session.id,
                                                          session.settings.partner_roles)
        operator = model.find_operator(client.operator_id or "")
        state = {
            "type": "state",
            "availability": session.settings.availability,
            "mode": session.settings.mode,
            "active": client.chat_active,
            "can_activate": model.refusal_to_activate(client) is None,
            "operators": help_count if not session.blocked else 0,
            "peers": peer_count,
            "blocked": session.blocked,
            "operator_name": operator.user.first_name or "Operator" if operator else None,
            "operator_available": bool(operator and operator.available),
            "queue": self._queue_state(client),
            "can_leave_message": model.left.may_leave(client),
            "closed_by": client.closed_by,
            "max_chars": model.config.max_chat_chars,
            "conversation": session.conversation_of(client),
            "participant": client.participant,  # who "me" is among a conversation's senders
        }
        for extension in self.extensions:
            extension.decorate_state(client, state)
        return state

    def _queue_state(self, client: Client) -> dict | None:
        """The client's place in line, noted as told (states are built to be sent)."""
        place = self.model.routing.position(client)
        if place is None:
            return None
        self._told_places[client.key] = place
        estimate = self.model.routing.estimate_seconds(place)
        return {"position": place,
                "estimate_seconds": None if estimate is None else round(estimate)}

    def tell_places(self, most: int = 100) -> None:
        """Periodic job: tell waiting users whose place in line moved since they were
        last told, `most` at a time from the head of the line (a page's state costs
        tens of microseconds: hundreds at once would hold up the event loop). Only
        their own page shows it: Monitors order the line by `queued_since`, which
        moving up does not change."""
        positions = self.model.routing.positions()
        told = {key: place for key, place in self._told_places.items() if key in positions}
        for key, place in positions.items():
            client = self.model.find_client(key)
            if client is None or told.get(key) == place:
                continue
            if most == 0:
                break
            most -= 1
            self.model.hub.publish(f"client:{key}", self.state(client))  # notes it as told
            told[key] = place
        self._told_places = told
