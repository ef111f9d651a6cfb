"""The live-help model: interviewee clients, operators, routing, blocks (chat rules in
state/chat.py, operator rules in state/operators.py, the records in state/live_records.py).

No Tornado here. Socket handlers call these methods and subscribe to the Hub
channels the model publishes to (see state/hub.py); the model is the one owner
of this state, with explicit indexes and one removal function (`_forget`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from state.config import Config
from state.livehelp.chat import ChatRules
from state.livehelp.errors import LiveHelpError
from state.livehelp.hub import Hub
from state.livehelp.operators import OperatorRules
from state.livehelp.records import Client, LiveSession, Operator, client_key
from state.livehelp.session_locks import SessionLocks
from state.store.base import SessionRecord, Store, User

log = logging.getLogger(__name__)

# An offline client stays listed (as "offline") this long, then is forgotten;
# long enough for an operator to notice, short enough to keep the list about now.
FORGET_OFFLINE_SECONDS = 600.0


class LiveHelp(ChatRules, OperatorRules):
    """Sessions, clients, operators and the rules of PRODUCT.md C1–C10, M2–M12."""

    def __init__(self, store: Store, hub: Hub, config: Config,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.hub = hub
        self.config = config
        self.clock = clock
        self.sessions: dict[str, LiveSession] = {}
        self.clients: dict[str, Client] = {}
        self.operators: dict[str, Operator] = {}
        # Clients with no open socket: the only ones mark_offline() has to look at,
        # so the periodic job costs nothing while 10,000 browsers stay connected.
        self._idle: set[str] = set()
        # Listed sessions requesting each role, so requested_roles() needs no scan of
        # every session (it runs on each connect: a scan made 10,000 connects quadratic).
        self._role_counts: Counter[str] = Counter()
        # Extensions (observe/control, phone codes) add fields to the Monitor entry
        # and to the interviewee's state message through these.
        self.entry_decorators: list[Callable[[Client, dict], None]] = []
        self.state_decorators: list[Callable[[Client, dict], None]] = []
        # Extensions keeping per-client state of their own (co-browsing) drop it through these.
        self.forget_hooks: list[Callable[[Client], None]] = []
        # Held by whoever reads a session record to change and save it (see session_locks.py).
        self.record_locks = SessionLocks()
        self.unlisted_hooks: list[Callable[[LiveSession], None]] = []

    async def close(self) -> None:
        self.sessions.clear()
        self.clients.clear()
        self.operators.clear()
        self._idle.clear()
        self._role_counts.clear()

    # ------------------------------------------------------------------ queries
    def conversation_of(self, client: Client) -> str:
        """Peer modes share one conversation per session; help mode is private per client."""
        session = self.sessions[client.session_id]
        return session.id if session.mode in ("peer", "peerhelp") else client.key

    def operators_for(self, roles: list[str]) -> list[Operator]:
        return [op for op in self.operators.values() if op.available and op.serves(roles)]

    def partners_available(self, session_id: str | None, roles: list[str]) -> tuple[int, int]:
        """(help, peer): matching available operators, and other people online in the session."""
        help_count = len(self.operators_for(roles))
        peer_count = 0
        session = self.sessions.get(session_id or "")
        if session:
            peers = {self.clients[k].participant for k in session.clients
                     if not self.clients[k].offline}
            peer_count = max(len(peers) - 1, 0)
        return help_count, peer_count

    def status_of(self, client: Client) -> str:
        """waiting, standby, on, off or offline, as the reference defines them."""
        session = self.sessions[client.session_id]
        if client.offline:
            return "offline"
        if session.availability == "observeonly" or (session.blocked and session.mode == "help"):
            return "off"
        if client.chat_active:
            return "on"
        help_count, peer_count = self.partners_available(session.id, session.partner_roles)
        if help_count or (session.mode != "help" and peer_count):
            return "standby"
        return "waiting"

    def can_activate(self, client: Client) -> bool:
        session = self.sessions[client.session_id]
        if session.availability != "available":
            return False
        if session.mode == "help":
            return not session.blocked and bool(self.operators_for(session.partner_roles))
        return True

    def operator_may_chat(self, client: Client) -> bool:
        session = self.sessions[client.session_id]
        return (client.chat_active and session.availability == "available"
                and session.mode in ("help", "peerhelp") and not session.blocked)

    def entry(self, client: Client) -> dict:
        """The Monitor's view of one client."""
        session = self.sessions[client.session_id]
        operator = self.operators.get(client.operator_id or "")
        name = " ".join(p for p in (client.first_name, client.last_name) if p) or client.email
        entry = {
            "key": client.key,
            "session": session.id,
            "interview": session.interview,
            "title": session.title,
            "user_name": name,  # None when anonymous
            "status": self.status_of(client),
            "availability": session.availability,
            "mode": session.mode,
            "roles": list(session.partner_roles),
            "blocked": session.blocked,
            "chat": self.operator_may_chat(client),
            "conversation": self.conversation_of(client),
            "operator_id": client.operator_id,
            "operator_name": operator.user.first_name or operator.user.email if operator else None,
        }
        for decorate in self.entry_decorators:
            decorate(client, entry)
        return entry

    def user_state(self, client: Client) -> dict:
        """What the interviewee's page needs to draw the chat icon and Help tab."""
        session = self.sessions[client.session_id]
        help_count, peer_count = self.partners_available(session.id, session.partner_roles)
        operator = self.operators.get(client.operator_id or "")
        state = {
            "type": "state",
            "availability": session.availability,
            "mode": session.mode,
            "active": client.chat_active,
            "can_activate": self.can_activate(client),
            "operators": help_count if not session.blocked else 0,
            "peers": peer_count,
            "blocked": session.blocked,
            "operator_name": operator.user.first_name or "Operator" if operator else None,
            "conversation": self.conversation_of(client),
            "participant": client.participant,  # who "me" is among a conversation's senders
        }
        for decorate in self.state_decorators:
            decorate(client, state)
        return state

    def requested_roles(self) -> list[str]:
        return sorted(role for role, count in self._role_counts.items() if count > 0)

    def _count_roles(self, session: LiveSession, change: int) -> None:
        """Add (+1) or remove (-1) the session's roles from the requested-roles counts."""
        if session.listed:
            for role in set(session.partner_roles):
                self._role_counts[role] += change
                if self._role_counts[role] <= 0:
                    del self._role_counts[role]

    def monitor_snapshot(self, operator_id: str) -> dict:
        operator = self.operators[operator_id]
        return {
            "type": "monitor",
            "operator": {"available": operator.settings.available,
                         "roles": operator.settings.roles, "phone": operator.settings.phone},
            "roles": self.requested_roles(),
            "sessions": [self.entry(c) for c in self.clients.values()
                         if self.sessions[c.session_id].listed],
        }

    # ------------------------------------------------------------------ publishing
    def _publish_client(self, client: Client) -> None:
        self.hub.publish(f"client:{client.key}", self.user_state(client))
        session = self.sessions[client.session_id]
        if session.listed:
            self.hub.publish("monitor", {"type": "session", "session": self.entry(client)})
        else:
            self.hub.publish("monitor", {"type": "session_gone", "key": client.key})

    def _publish_everyone(self) -> None:
        """Operator availability changed: every client's status may have changed."""
        for client in self.clients.values():
            self._publish_client(client)
        self.hub.publish("monitor", {"type": "roles", "roles": self.requested_roles()})

    def publish_session(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        for key in list(session.clients if session else ()):
            self._publish_client(self.clients[key])

    # ------------------------------------------------------------------ interviewees
    def apply_record(self, record: SessionRecord, title: str) -> LiveSession:
        """Bring the session's live-help settings and block flag in line with the store,
        and tell everyone concerned."""
        session, roles_changed = self._update_session(record, title)
        self._publish_session_change(session.id, roles_changed)
        return session

    def _update_session(self, record: SessionRecord, title: str) -> tuple[LiveSession, bool]:
        """The state change of apply_record(), publishing nothing; True if the roles
        requested by listed sessions changed."""
        session = self.sessions.get(record.id)
        if session is None:
            session = self.sessions[record.id] = LiveSession(record.id, record.interview, title)
        was_roles = self.requested_roles()
        self._count_roles(session, -1)
        session.title = title
        session.availability = record.live_help.get("availability", "unavailable")
        session.mode = record.live_help.get("mode", "help")
        session.partner_roles = list(record.live_help.get("partner_roles", []))
        session.blocked = record.blocked
        self._count_roles(session, +1)
        if session.availability != "available":
            for key in session.clients:
                self._end_chat(self.clients[key])
        if not session.listed:
            for hook in self.unlisted_hooks:
                hook(session)
        return session, self.requested_roles() != was_roles

    def _publish_session_change(self, session_id: str, roles_changed: bool) -> None:
        self.publish_session(session_id)
        if roles_changed:
            self.hub.publish("monitor", {"type": "roles", "roles": self.requested_roles()})

    def session_changed(self, record: SessionRecord, title: str) -> None:
        """The interview runner saved the session: update it if any browser is connected."""
        if record.id in self.sessions:
            self.apply_record(record, title)

    def client_connected(self, record: SessionRecord, title: str, participant: str,
                         user: User | None) -> Client:
        """An interviewee page opened its socket."""
        _, roles_changed = self._update_session(record, title)
        key = client_key(record.id, participant)
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = Client(key, record.id, participant)
            self.sessions[record.id].clients.add(key)
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
        client = self.clients.get(key)
        if client is None:
            return
        client.sockets = max(client.sockets - 1, 0)
        client.last_seen = self.clock()
        if client.sockets == 0:
            self._idle.add(key)

    def client_seen(self, key: str) -> None:
        client = self.clients.get(key)
        if client is not None:
            client.last_seen = self.clock()

    def mark_offline(self) -> None:
        """Periodic job: clients with no socket for `offline_seconds` go offline, later away."""
        now = self.clock()
        for key in list(self._idle):
            client = self.clients[key]
            if now - client.last_seen < self.config.offline_seconds:
                continue
            if now - client.last_seen >= FORGET_OFFLINE_SECONDS:
                self._forget(client)
            elif not client.offline:
                client.offline = True
                self.publish_session(client.session_id)

    def _forget(self, client: Client) -> None:
        """The one removal function: every index that mentions the client."""
        self.clients.pop(client.key, None)
        self._idle.discard(client.key)
        for hook in self.forget_hooks:
            hook(client)
        operator = self.operators.get(client.operator_id or "")
        if operator:
            operator.conversations.discard(client.key)
        session = self.sessions.get(client.session_id)
        if session:
            session.clients.discard(client.key)
            if not session.clients:
                self._count_roles(session, -1)
                del self.sessions[session.id]
        self.hub.publish("monitor", {"type": "session_gone", "key": client.key})

    def activate(self, key: str) -> None:
        client = self._client(key)
        if not self.can_activate(client):
            session = self.sessions[client.session_id]
            if session.availability != "available":
                raise LiveHelpError("chat_unavailable", "Live chat is not offered in this interview.")
            if session.blocked:
                raise LiveHelpError("blocked", "Chat with operators is not possible right now.")
            raise LiveHelpError("no_operator", "No operator is available to chat right now.")
        client.chat_active = True
        self._route(client)
        self._publish_client(client)

    def deactivate(self, key: str) -> None:
        """The user turned chat off."""
        self._end_chat(self._client(key))
        self.publish_session(self._client(key).session_id)

    def _end_chat(self, client: Client) -> None:
        client.chat_active = False
        self._unassign(client)

    def _unassign(self, client: Client) -> None:
        operator = self.operators.get(client.operator_id or "")
        if operator:
            operator.conversations.discard(client.key)
        client.operator_id = None

    def _route(self, client: Client) -> None:
        """Assign an active help conversation to the matching operator with the fewest."""
        session = self.sessions[client.session_id]
        if client.operator_id or not self.operator_may_chat(client):
            return
        candidates = self.operators_for(session.partner_roles)
        if candidates:
            chosen = min(candidates, key=lambda op: (len(op.conversations), op.user.email))
            self._assign(client, chosen)

    def _assign(self, client: Client, operator: Operator) -> None:
        self._unassign(client)
        client.operator_id = operator.user.id
        operator.conversations.add(client.key)

    def _client(self, key: str) -> Client:
        client = self.clients.get(key)
        if client is None:
            raise LiveHelpError("unknown_session", "That session is not active.")
        return client

    async def set_blocked(self, key: str, blocked: bool) -> SessionRecord:
        """Block or unblock the client's session for all operators; persisted."""
        client = self._client(key)
        async with self.record_locks.hold(client.session_id):
            record = await self.store.get_session(client.session_id)
            if record is None:
                raise LiveHelpError("unknown_session", "That session no longer exists.")
            record.blocked = blocked
            await self.store.save_session(record)
        session = self.sessions[client.session_id]
        session.blocked = blocked
        if blocked:
            for other in session.clients:
                if session.mode == "help":
                    self._end_chat(self.clients[other])
                else:
                    self._unassign(self.clients[other])
        self.publish_session(session.id)
        return record
