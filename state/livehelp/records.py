"""What the live-help model knows of sessions, interviewee clients and operators.

A *client* is one interviewee browser in one interview session (one Monitor
entry). Its key is "<session id>|<participant>" (`rules.client_key`), participant
being "u:<user id>" or "b:<browser id>".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from state.livehelp.rules import LiveHelpSettings
from state.store.base import OperatorSettings, User, utcnow


@dataclass
class LiveSession:
    """What the model knows of one interview session with at least one client."""

    id: str
    interview: str
    title: str
    settings: LiveHelpSettings = field(default_factory=LiveHelpSettings)
    blocked: bool = False
    clients: set[str] = field(default_factory=set)
    created: datetime = field(default_factory=utcnow)

    @property
    def listed(self) -> bool:
        return self.settings.listed

    @property
    def operators_chat(self) -> bool:
        """Operators may chat in this session now: chat is offered, in a mode with
        operators, and the session is not blocked."""
        return self.settings.chat_offered and self.settings.operators_chat and not self.blocked

    def conversation_of(self, client: Client) -> str:
        return self.settings.conversation(self.id, client.participant)


@dataclass
class Client:
    key: str
    session_id: str
    participant: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    sockets: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    offline: bool = False
    chat_active: bool = False
    screen: str | None = None  # the question the page shows, as the page says
    operator_id: str | None = None  # operator the conversation is assigned to
    closed_by: str | None = None  # the operator who closed its chat, until it starts again
    transfer: dict | None = None  # {"from", "note"}: how the conversation came to its operator
    preferred_operator: str | None = None  # transferred to them before a restart
    restored: bool = False  # what the store kept of its handovers has been read

    @property
    def name(self) -> str | None:
        """The signed-in user's name (or email); None when anonymous."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email


@dataclass
class Operator:
    user: User
    settings: OperatorSettings
    sockets: int = 0
    conversations: set[str] = field(default_factory=set)  # client keys assigned
    # Cluster mode: per other process, (this operator's Monitor sockets there, the
    # conversations its sessions give them), as that process last said.
    elsewhere: dict[str, tuple[int, int]] = field(default_factory=dict)
    settings_stamp: float = 0.0  # when `settings` last changed (time.time()); 0: the store's
    # The places Redis last said they hold on every process, when it refused one; counted
    # until the next report of the processes' operators says how many exactly.
    held_at_least: int = 0

    @property
    def available(self) -> bool:
        connected = self.sockets > 0 or any(sockets for sockets, _ in self.elsewhere.values())
        return connected and self.settings.available

    @property
    def load(self) -> int:
        """The conversations they hold, on every process."""
        reported = len(self.conversations) + sum(load for _, load in self.elsewhere.values())
        return max(reported, self.held_at_least)

    @property
    def name(self) -> str:
        return self.user.first_name or self.user.email

    def serves(self, roles: list[str] | tuple[str, ...]) -> bool:
        return bool(set(self.settings.roles) & set(roles))
