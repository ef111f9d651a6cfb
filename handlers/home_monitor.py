"""Cluster mode: an operator's commands about a session whose home is another process.

A session lives at its home process (docs/architecture.md, "Several processes"). When a
Monitor socket gets a session command (monitor_commands.SESSION_COMMANDS) for a session
that is not here but another process's, `Homes.forward` sends the frame there. At the
home a `HomeMonitor` stands in for that socket: it answers with the socket's own methods
(the same rules, written once), and what it sends goes back to the socket, observed
screens included. A stand-in ends when its socket closes, when its process reports the
operator has no Monitor socket there (a lost `monitor_closed`) or when its process is
gone; that ends what it held (a control lock, screens watched) as a closing socket does.

Commands of one socket are answered in order, one at a time, as a socket's frames are.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import msgspec

from handlers import messages
from handlers.base import Services
from handlers.cobrowse_socket import MonitorCoBrowseMixin
from handlers.monitor_commands import SESSION_COMMANDS, SessionCommands
from handlers.monitor_desk import MonitorDeskMixin
from handlers.socket_base import Answering
from handlers.socket_registry import SocketRegistry
from state.livehelp.operators import user_fields, user_of
from state.livehelp.rules import session_of
from state.store.base import OperatorSettings, User

log = logging.getLogger(__name__)


class ClusterLink(Protocol):
    """What of state.cluster.Cluster this module uses."""

    process: str
    remote: Any  # state.cluster.mirror.RemoteEntries
    on_gone: list

    def on(self, kind: str, handler: Any) -> None: ...

    def tell(self, process: str, message: dict) -> None: ...


class Forwarding(Protocol):
    """The socket side (handlers/monitor_socket.py MonitorSocket)."""

    cobrowse_token: str
    current_user: User

    def send(self, message: dict, urgent: bool = False) -> None: ...


class StandIn(Services, Answering):
    """What the mixins expect below them of a socket, for a stand-in."""

    def initialize(self) -> None:
        """The mixins' own (co-browsing's: the control token, the screens watched)."""

    def on_close(self) -> None:
        """The mixins' own (co-browsing's: what this socket held ends)."""


class HomeMonitor(SessionCommands, MonitorDeskMixin, MonitorCoBrowseMixin, StandIn):
    """At the home: stands in for the Monitor socket `socket_id` of process `origin`."""

    protocol = messages.Protocol(messages.MONITOR_MESSAGES)

    def __init__(self, homes: Homes, origin: str, socket_id: str, user: User) -> None:
        self.settings = homes.settings
        self.current_user = user
        self.operator_id = user.id
        self._homes, self._origin, self._socket_id = homes, origin, socket_id
        self._commands: asyncio.Queue[str] = asyncio.Queue()
        self.initialize()
        self._task = asyncio.ensure_future(self._answer_in_order())

    @property
    def sockets(self) -> SocketRegistry:
        return self.settings["sockets"]

    def send(self, message: dict, urgent: bool = False) -> None:
        self._homes.cluster.tell(self._origin, {
            "type": "to_monitor", "socket": self._socket_id, "message": message,
            "urgent": urgent})

    def command(self, frame: str) -> None:
        self._commands.put_nowait(frame)

    async def _answer_in_order(self) -> None:
        while True:
            frame = await self._commands.get()
            try:
                message = self.protocol.decode(frame)
            except messages.Refused as refused:  # a process of another version
                self.send_refusal(refused.code, refused.message, refused.ref)
                continue
            try:
                await self.answer(message)
            except Exception:  # one failed command must not stop the others
                log.exception("a command forwarded by %s failed", self._origin)

    def end(self) -> None:
        self._task.cancel()
        self.on_close()


class Homes:
    """Both sides of forwarding: this process's Monitor sockets forwarding (by socket
    id), and the stand-ins for other processes' sockets (by origin and socket id)."""

    def __init__(self, cluster: ClusterLink, settings: dict) -> None:
        self.cluster = cluster
        self.settings = settings
        self._sockets: dict[str, Forwarding] = {}
        self._homes_used: dict[str, set[str]] = {}  # socket id -> the homes it forwarded to
        self._stand_ins: dict[tuple[str, str], HomeMonitor] = {}
        cluster.on("command", self._command)
        cluster.on("to_monitor", self._to_monitor)
        cluster.on("monitor_closed", self._monitor_closed)
        cluster.on("operators", self._reported)
        cluster.on_gone.append(self._gone)

    # ------------------------------------------------------------ at the operator's
    def home_of(self, message: messages.Message) -> str | None:
        """The process to run `message` at, when it is a session command for a session
        another process holds; None: here."""
        if message.kind() not in SESSION_COMMANDS:
            return None
        key = message.session
        if self.settings["livehelp"].find_client(key) is not None:
            return None
        return self.cluster.remote.home_of(session_of(key))

    def forward(self, socket: Forwarding, home: str, message: messages.Message) -> None:
        socket_id = socket.cobrowse_token
        self._sockets[socket_id] = socket
        self._homes_used.setdefault(socket_id, set()).add(home)
        self.cluster.tell(home, {"type": "command", "socket": socket_id,
                                 "user": user_fields(socket.current_user),
                                 "frame": msgspec.json.encode(message).decode()})

    def closed(self, socket: Forwarding) -> None:
        """The socket closed: the stand-ins it has end."""
        socket_id = socket.cobrowse_token
        self._sockets.pop(socket_id, None)
        for home in self._homes_used.pop(socket_id, ()):
            self.cluster.tell(home, {"type": "monitor_closed", "socket": socket_id})

    def _to_monitor(self, origin: str, message: dict) -> None:
        socket = self._sockets.get(message["socket"])
        if socket is not None:
            socket.send(message["message"], urgent=message["urgent"])

    # ------------------------------------------------------------ at the home
    def _command(self, origin: str, message: dict) -> None:
        key = (origin, message["socket"])
        stand_in = self._stand_ins.get(key)
        if stand_in is None:
            user = user_of(message["user"])
            livehelp = self.settings["livehelp"]
            if livehelp.find_operator(user.id) is None:  # its process's report was lost
                livehelp.add_operator(user, OperatorSettings(user.id))
            stand_in = self._stand_ins[key] = HomeMonitor(self, origin, message["socket"], user)
        stand_in.command(message["frame"])

    def _monitor_closed(self, origin: str, message: dict) -> None:
        stand_in = self._stand_ins.pop((origin, message["socket"]), None)
        if stand_in is not None:
            stand_in.end()

    def _reported(self, origin: str, message: dict) -> None:
        """`origin`'s report of its operators: the stand-ins of an operator with no
        Monitor socket there end, had their `monitor_closed` been lost (pub/sub)."""
        connected = {item["user"]["id"] for item in message["operators"] if item["sockets"]}
        for key in [key for key, stand_in in self._stand_ins.items()
                    if key[0] == origin and stand_in.operator_id not in connected]:
            self._stand_ins.pop(key).end()

    def _gone(self, process: str) -> None:
        for key in [key for key in self._stand_ins if key[0] == process]:
            self._stand_ins.pop(key).end()
        for homes in self._homes_used.values():
            homes.discard(process)
