"""The live-help model: the one owner of sessions, clients and operators, with explicit
indexes and one removal function (`_forget`).

No Tornado here. The rules live in parts that see the model through small declared
interfaces: routing (routing.py), chat (chat.py), operators (operators.py); the
extensions (co-browsing, phone codes) through extension.py. Socket handlers call
these methods and subscribe to the Hub channels the model publishes to (hub.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from state.livehelp.attention import Attention
from state.livehelp.chat import ChatRules
from state.livehelp.entries import Entries
from state.livehelp.errors import LiveHelpError
from state.livehelp.extension import Extension
from state.livehelp.handover import Handover
from state.livehelp.hub import Hub
from state.livehelp.left import LeftMessages
from state.livehelp.limits import ChatLimitSettings
from state.livehelp.operators import OperatorRules
from state.livehelp.records import Client, LiveSession, Operator
from state.livehelp.remote import NoRemoteSessions, RemoteSessions
from state.livehelp.routing import Routing, RoutingSettings
from state.livehelp.rules import LiveHelpSettings, client_key
from state.livehelp.session_locks import SessionLocks
from state.livehelp.user_view import UserView
from state.store.base import OperatorSettings, SessionRecord, Store, User

# An offline client stays listed (as "offline") this long, then is forgotten;
# long enough for an operator to notice, short enough to keep the list about now.
FORGET_OFFLINE_SECONDS = 600.0


class ModelSettings(Protocol):
    """What the model reads of the config (state.config.Config), at each use."""

    offline_seconds: float
    max_chat_chars: int
    limits: ChatLimitSettings  # the chat rules' limits (limits.py)
    routing: RoutingSettings  # capacity, queue (routing.py)


class LiveHelp:
    """Sessions, clients, operators and the rules of PRODUCT.md C1–C10, M2–M12."""

    def __init__(self, store: Store, hub: Hub, config: ModelSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.hub = hub
        self.config = config
        self.clock = clock
        self._sessions: dict[str, LiveSession] = {}
        self._clients: dict[str, Client] = {}
        self._operators: dict[str, Operator] = {}
        # Clients with no open socket: the only ones mark_offline() has to look at,
        # so the periodic job costs nothing while 10,000 browsers stay connected.
        self._idle: set[str] = set()
        # Listed sessions requesting each role, so requested_roles() needs no scan of
        # every session (it runs on each connect: a scan made 10,000 connects quadratic).
        self._role_counts: Counter[str] = Counter()
        self._extensions: list[Extension] = []
        # Held by whoever reads a session record to change and save it (see session_locks.py).
        self.record_locks = SessionLocks()
        self.attention = Attention()
        self.routing = Routing(self)
        self.chat = ChatRules(self)
        self.operators = OperatorRules(self)
        self.handover = Handover(self)
        self.left = LeftMessages(self)
        self.entries = Entries(self, self._extensions)
        # Cluster mode: the entries other processes hold, and what to call when this
        # process's operators or their load change (to tell the other processes; see
        # OperatorRules.report).
        self.remote: RemoteSessions = NoRemoteSessions()
        self.operators_changed: Callable[[], None] = lambda: None
        self.user_view = UserView(self, self._extensions)

    def add_extension(self, extension: Extension) -> None:
        self._extensions.append(extension)

    async def close(self) -> None:
        self._sessions.clear()
        self._clients.clear()
        self._operators.clear()
        self._idle.clear()
        self._role_counts.clear()

    # ------------------------------------------------------------------ lookups
    def find_client(self, key: str) -> Client | None:
        return self._clients.get(key)

    def client(self, key: str) -> Client:
        """The client behind `key`; refuses with `unknown_session` when there is none."""
        client = self._clients.get(key)
        if client is None:
            raise LiveHelpError("unknown_session", "That session is not active.")
        return client

    def find_session(self, session_id: str) -> LiveSession | None:
        return self._sessions.get(session_id)

    def session_of(self, client: Client) -> LiveSession:
        return self._sessions[client.session_id]

    def find_operator(self, user_id: str) -> Operator | None:
        return self._operators.get(user_id)

    def operator(self, user_id: str) -> Operator:
        """A connected operator (the caller holds one of their sockets)."""
        return self._operators[user_id]

    def all_operators(self) -> list[Operator]:
        return list(self._operators.values())

    def add_operator(self, user: User, settings: OperatorSettings) -> Operator:
        return self._operators.setdefault(user.id, Operator(user, settings))

    def available_operators(self, roles: Iterable[str] | None) -> list[Operator]:
        """Available operators serving one of `roles` (any, when None)."""
        if roles is None:
            return [op for op in self._operators.values() if op.available]
        roles = tuple(roles)
        return [op for op in self._operators.values() if op.available and op.serves(roles)]

    def conversation_listed(self, conversation: str) -> bool:
        """Whether `conversation` is one of a session the Monitor lists."""
        client = self._clients.get(conversation)
        session = self._sessions.get(client.session_id if client else conversation)
        if session is None:
            return self.remote.has_conversation(conversation)
        return session.listed

    # ------------------------------------------------------------------ queries
    def conversation_of(self, client: Client) -> str:
        return self.session_of(client).conversation_of(client)

    def partners_available(self, session_id: str | None, roles: Iterable[str]) -> tuple[int, int]:
        """(help, peer): matching available operators, and other people online in the session."""
        help_count = len(self.available_operators(roles))
        peer_count = 0
        session = self._sessions.get(session_id or "")
        if session:
            peers = {self._clients[k].participant for k in session.clients
                     if not self._clients[k].offline}
            peer_count = max(len(peers) - 1, 0)
        return help_count, peer_count

    def status_of(self, client: Client) -> str:
        """waiting, standby, on, off or offline, as the reference defines them."""
        session = self.session_of(client)
        settings = session.settings
        if client.offline:
            return "offline"
        if not settings.chat_offered or (session.blocked and settings.needs_operator):
            return "off"
        if client.chat_active:
            return "on"
        help_count, peer_count = self.partners_available(session.id, settings.partner_roles)
        if help_count or (not settings.needs_operator and peer_count):
            return "standby"
        return "waiting"

    def refusal_to_activate(self, client: Client) -> LiveHelpError | None:
        """Why `client` may not turn chat on now, or None when it may."""
        session = self.session_of(client)
        if not session.settings.chat_offered:
            return LiveHelpError("chat_unavailable", "Live chat is not offered in this interview.")
        if not session.settings.needs_operator:
            return None
        if session.blocked:
            return LiveHelpError("blocked", "Chat with operators is not possible right now.")
        if not self.available_operators(session.settings.partner_roles):
            return LiveHelpError("no_operator", "No operator is available to chat right now.")
        return None

    def sessions(self) -> Iterator[LiveSession]:
        return iter(self._sessions.values())

    def entry(self, client: Client) -> dict:
        """The Monitor entry `client` appears in (entries.py)."""
        return self.entries.entry(self.session_of(client), client)

    def user_state(self, client: Client) -> dict:
        return self.user_view.state(client)

    def requested_roles(self) -> list[str]:
        """The roles listed sessions ask for, on every process."""
        return sorted({role for role, count in self._role_counts.items() if count > 0}
                      | self.remote.roles())

    def _count_roles(self, session: LiveSession, change: int) -> None:
        """Add (+1) or remove (-1) the session's roles from the requested-roles counts."""
        if session.listed:
            for role in set(session.settings.partner_roles):
                self._role_counts[role] += change
                if self._role_counts[role] <= 0:
                    del self._role_counts[role]

    def listed_entries(self) -> list[dict]:
        """Every Monitor entry: this process's, and in cluster mode the others'."""
        return self.entries.listed() + self.remote.entries()

    def monitor_snapshot(self, operator_id: str, entries: list[dict] | None = None) -> dict:
        return self.entries.snapshot(self._operators[operator_id],
                                     self.listed_entries() if entries is None else entries)

    def figures(self) -> dict[str, int]:
        """Counts for /metrics."""
        clients = list(self._clients.values())
        listed = [c for c in clients if self.session_of(c).listed]
        conversations = {self.conversation_of(c) for c in listed
                         if c.operator_id or (c.chat_active and
                                              not self.session_of(c).settings.needs_operator)}
        operators = list(self._operators.values())
        return {
            "sessions": len(listed),
            "clients": len(clients),
            "clients_online": sum(1 for c in clients if c.sockets),
            "operators_online": sum(1 for op in operators if op.sockets),
            "operators_available": sum(1 for op in operators if op.available),
            "conversations": len(conversations),
        }

    # ------------------------------------------------------------------ publishing
    def publish_client(self, client: Client) -> None:
        self.hub.publish(f"client:{client.key}", self.user_state(client))
        self._publish_entry(self.session_of(client), client)

    def _publish_entry(self, session: LiveSession, client: Client) -> None:
        if session.listed:
            self.hub.publish("monitor", {"type": "session", "session": self.entry(client)})
        else:
            self.hub.publish("monitor", {"type": "session_gone",
                                         "id": self.entries.entry_id(session, client)})

    def publish_everyone(self) -> None:
        """Operator availability changed: every client's status may have changed."""
        for session_id in list(self._sessions):
            self.publish_session(session_id)
        self.hub.publish("monitor", {"type": "roles", "roles": self.requested_roles()})

    def publish_session(self, session_id: str, states: bool = True) -> None:
        """Every client's state (unless not `states`), and the session's entries (one
        when shared)."""
        session = self._sessions.get(session_id)
        clients = [self._clients[key] for key in sorted(session.clients)] if session else []
        for client in clients if states else ():
            self.hub.publish(f"client:{client.key}", self.user_state(client))
        for client in clients[:1] if session and session.settings.shared_conversation else clients:
            self._publish_entry(session, client)

    # ------------------------------------------------------------------ interviewees
    def apply_record(self, record: SessionRecord, title: str) -> LiveSession:
        """Bring the session's live-help settings and block flag in line with the store,
        and tell everyone concerned."""
        session, roles_changed = self._update_session(record, title)
        self._publish_session_change(session.id, roles_changed)
        return session

    def _update_session(self, record: SessionRecord, title: str) -> tuple[LiveSession, bool]:
        """The state change of apply_record(), publishing only the end of entries a
        change of mode replaces; True if the roles requested by listed sessions changed."""
        session = self._sessions.get(record.id)
        if session is None:
            session = self._sessions[record.id] = LiveSession(
                record.id, record.interview, title, created=record.created)
        was_roles = self.requested_roles()
        was_ids = {entry["id"] for entry in self.entries.of_session(session)} if session.listed else set()
        self._count_roles(session, -1)
        session.title = title
        session.settings = LiveHelpSettings.of(record.live_help)
        if session.listed:
            was_ids -= {entry["id"] for entry in self.entries.of_session(session)}
        for entry_id in sorted(was_ids):  # one entry per person became one for all, or back
            self.hub.publish("monitor", {"type": "session_gone", "id": entry_id})
        session.blocked = record.blocked
        self._count_roles(session, +1)
        if not session.settings.chat_offered:
            for key in session.clients:
                self.end_chat(self._clients[key])
        if not session.listed:
            for extension in self._extensions:
                extension.session_unlisted(session)
        return session, self.requested_roles() != was_roles

    def _publish_session_change(self, session_id: str, roles_changed: bool) -> None:
        self.publish_session(session_id)
        if roles_changed:
            self.hub.publish("monitor", {"type": "roles", "roles": self.requested_roles()})
        self.serve_line()  # chat may have ended, or roles asked for changed

    def session_changed(self, record: SessionRecord, title: str) -> None:
        """The interview runner saved the session: update it if any browser is connected."""
        if record.id in self._sessions:
            self.apply_record(record, title)

    def client_connected(self, record: SessionRecord, title: str, participant: str,
                         user: User | None) -> Client:
        """An interviewee page opened its socket."""
        _, roles_changed = self._update_session(record, title)
        key = client_key(record.id, participant)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = Client(key, record.id, participant)
            self._sessions[record.id].clients.add(key)
        if user is not None:
            client.email, client.first_name, client.last_name = (
                user.email, user.first_name, user.last_name)
        client.sockets += 1
        self._idle.discard(key)
        client.offline = False
        client.last_seen = self.clock()
        self._publish_session_change(record.id, roles_changed)  # peers' counts change too
        return client

    def client_disconnected(self, key: str) -> None:
        client = self._clients.get(key)
        if client is None:
            return
        client.sockets = max(client.sockets - 1, 0)
        client.last_seen = self.clock()
        if client.sockets == 0:
            self._idle.add(key)

    def client_screen(self, key: str, screen: str | None) -> None:
        """The client's page says which question it shows (its `hello`)."""
        client = self._clients.get(key)
        if client is not None and screen != client.screen:
            client.screen = screen
            self._publish_entry(self.session_of(client), client)

    def client_seen(self, key: str) -> None:
        client = self._clients.get(key)
        if client is not None:
            client.last_seen = self.clock()

    def mark_offline(self) -> None:
        """Periodic job: clients with no socket for `offline_seconds` go offline; after
        `routing: grace seconds` their chat ends (their operator's place frees); later
        they are forgotten."""
        now = self.clock()
        freed = False
        for key in list(self._idle):
            client = self._clients[key]
            away = now - client.last_seen
            if away < self.config.offline_seconds:
                continue
            if away >= FORGET_OFFLINE_SECONDS:
                freed = True
                self._forget(client)
                continue
            changed = not client.offline
            client.offline = True
            if away >= self.config.routing.grace_seconds and (
                    client.operator_id or self.routing.queued(client)):
                self.end_chat(client)
                changed = freed = True
            if changed:
                self.publish_session(client.session_id)
        if freed:
            self.serve_line()

    def claim_refused(self, key: str, operator_id: str, held: int) -> None:
        """Cluster mode: another process filled the operator's last place first."""
        client = self.routing.refused(key, operator_id, held)
        if client is not None:
            self.publish_client(client)
            self.serve_line()

    def serve_line(self) -> None:
        """A place may have freed: assign who waits, oldest first, at once."""
        for client in self.routing.route_waiting():
            self.publish_client(client)

    def _forget(self, client: Client) -> None:
        """The one removal function: every index that mentions the client."""
        self._clients.pop(client.key, None)
        self._idle.discard(client.key)
        for extension in self._extensions:
            extension.client_forgotten(client)
        self.routing.unassign(client)
        self.attention.forget(client.key)  # its own conversation, in a help mode
        session = self._sessions.get(client.session_id)
        if session is None:
            return
        shared = session.settings.shared_conversation
        session.clients.discard(client.key)
        if session.clients and shared:
            self.publish_session(session.id)  # the one entry loses a person
            return
        if not session.clients:
            self._count_roles(session, -1)
            del self._sessions[session.id]
            self.attention.forget(session.id)
        self.hub.publish("monitor", {"type": "session_gone",
                                     "id": self.entries.entry_id(session, client)})

    def activate(self, key: str) -> None:
        client = self.client(key)
        refusal = self.refusal_to_activate(client)
        if refusal is not None:
            raise refusal
        client.chat_active = True
        client.closed_by = None
        self.routing.route(client)
        self.publish_client(client)

    def deactivate(self, key: str) -> None:
        """The user turned chat off."""
        client = self.client(key)
        self.end_chat(client)
        self.publish_session(client.session_id)
        self.serve_line()

    def end_chat(self, client: Client) -> None:
        """Chat off, its operator's place free; the caller serves the line."""
        client.chat_active = False
        client.transfer = None
        self.routing.unassign(client)

    async def set_blocked(self, key: str, blocked: bool) -> SessionRecord:
        """Block or unblock the client's session for all operators; persisted."""
        client = self.client(key)
        async with self.record_locks.hold(client.session_id):
            record = await self.store.get_session(client.session_id)
            if record is None:
                raise LiveHelpError("unknown_session", "That session no longer exists.")
            record.blocked = blocked
            await self.store.save_session(record)
        session = self.session_of(client)
        session.blocked = blocked
        if blocked:
            for other in session.clients:
                if session.settings.needs_operator:
                    self.end_chat(self._clients[other])
                else:
                    self.routing.unassign(self._clients[other])
        self.publish_session(session.id)
        self.serve_line()
        return record
