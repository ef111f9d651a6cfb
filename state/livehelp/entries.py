"""The Monitor's view of the model: one entry per help conversation, one per shared
session (peer modes: everyone in it is one conversation, so one entry), and the
snapshot one operator's page starts from (docs/protocol.md, "Monitor entries")."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from state.livehelp.attention import Attention
from state.livehelp.extension import Extension
from state.livehelp.records import Client, LiveSession, Operator
from state.livehelp.routing import Routing
from state.store.base import utcnow

# One entry standing for several people shows the most telling status of theirs.
STATUS_RANK = ("on", "waiting", "standby", "off", "offline")


class EntriesModel(Protocol):
    """What the entries read of the model."""

    attention: Attention
    routing: Routing

    def find_client(self, key: str) -> Client | None: ...

    def find_operator(self, user_id: str) -> Operator | None: ...

    def sessions(self) -> Iterable[LiveSession]: ...

    def status_of(self, client: Client) -> str: ...

    def requested_roles(self) -> list[str]: ...


def visitor_label(key: str) -> str:
    """A short name for an anonymous person, the same on every page and reload
    ("Visitor K7QX"): 20 bits of a hash of the key, which says nothing of it."""
    digest = hashlib.sha256(key.encode()).digest()
    return "Visitor " + base64.b32encode(digest).decode()[:4]


def person_label(client: Client) -> str:
    return client.name or visitor_label(client.key)


def people_label(labels: list[str]) -> str:
    if len(labels) <= 2:
        return " and ".join(labels) or "Nobody"
    return f"{labels[0]} and {len(labels) - 1} others"


class Entries:
    def __init__(self, model: EntriesModel, extensions: list[Extension],
                 now: Callable[[], datetime] = utcnow) -> None:
        self.model = model
        self.extensions = extensions  # the model's list: extensions added later count
        self.now = now

    def entry_id(self, session: LiveSession, client: Client) -> str:
        return session.id if session.settings.shared_conversation else client.key

    def of_session(self, session: LiveSession) -> list[dict]:
        clients = [c for c in map(self.model.find_client, sorted(session.clients)) if c]
        if not clients:
            return []
        if not session.settings.shared_conversation:
            return [self._entry(session, client, [client]) for client in clients]
        # Commands about the session go through one person of it: one in a chat if
        # any (operators can write to them), else one online, else the first.
        speaker = min(clients, key=lambda c: (not c.chat_active, c.offline))
        return [self._entry(session, speaker, clients)]

    def entry(self, session: LiveSession, client: Client) -> dict:
        """The entry `client` appears in."""
        return self.of_session(session)[0] if session.settings.shared_conversation else (
            self._entry(session, client, [client]))

    def _entry(self, session: LiveSession, client: Client, people: list[Client]) -> dict:
        model = self.model
        operator = model.find_operator(client.operator_id or "")
        statuses = [model.status_of(person) for person in people]
        shared = session.settings.shared_conversation
        entry = {
            "id": self.entry_id(session, client),
            "key": client.key,
            "session": session.id,
            "interview": session.interview,
            "title": session.title,
            "user_name": client.name,  # None when anonymous
            "user_label": people_label([person_label(p) for p in people]) if shared
            else person_label(client),
            "email": None if shared else client.email,
            "participants": [{"label": person_label(p), "status": s}
                             for p, s in zip(people, statuses, strict=True)],
            "status": min(statuses, key=STATUS_RANK.index),
            "started": session.created.isoformat(),
            "screen": client.screen,
            "availability": session.settings.availability,
            "mode": session.settings.mode,
            "roles": list(session.settings.partner_roles),
            "blocked": session.blocked,
            "chat": model.routing.may_chat(client),
            "conversation": session.conversation_of(client),
            "operator_id": client.operator_id,
            "operator_name": operator.name if operator else None,
            "transfer": client.transfer,  # {"from", "note"}: for operators only
            **self._waiting(client),
        }
        model.attention.decorate(entry)
        for extension in self.extensions:
            extension.decorate_entry(client, entry)
        return entry

    def _waiting(self, client: Client) -> dict:
        waiting = self.model.routing.waiting(client)
        return {"queued_since": waiting.since_iso if waiting else None}

    def listed(self) -> list[dict]:
        return [entry for session in self.model.sessions() if session.listed
                for entry in self.of_session(session)]

    def snapshot(self, operator: Operator, entries: list[dict]) -> dict:
        """The Monitor's whole state for one operator; `entries`: every listed one
        (LiveHelp.listed_entries, the other processes' included)."""
        settings = operator.settings
        conversations = {entry["conversation"] for entry in entries}
        routing = self.model.routing
        return {
            "type": "monitor",
            "operator": {"available": settings.available, "roles": settings.roles,
                         "phone": settings.phone, "capacity": routing.capacity_of(operator),
                         "max_capacity": routing.ceiling()},
            "roles": self.model.requested_roles(),
            "sessions": entries,
            "read": self.model.attention.read_marks(operator.user.id, conversations),
            "now": self.now().isoformat(),
        }
