"""WebSocket base: authentication before the upgrade, origin check, size limit,
sockets per browser and per address, decoding into the declared messages
(handlers/messages.py), dispatch by `type` to one `on_<type>` method per message,
and the outbox, bounded by `limits: max queued bytes`.

See docs/protocol.md. A refused frame gets an `error` reply and changes nothing;
the socket stays open unless the client keeps sending garbage.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any
from urllib.parse import urlsplit

import tornado.iostream
import tornado.web
import tornado.websocket

from handlers.base import BaseHandler
from handlers.messages import Message, Protocol, Refused
from handlers.socket_registry import (
    CLOSE_POLICY_VIOLATION,
    CLOSE_TOO_FAR_BEHIND,
    SocketKeys,
    SocketRegistry,
)
from state.livehelp.errors import LiveHelpError
from state.livehelp.hub import Published, encode
from state.store.base import ChatMessage, StoreUnavailable

log = logging.getLogger(__name__)

# Consecutive refused frames before the socket is closed: enough for a buggy
# client to recover, few enough that a flood costs the server little.
MAX_BAD_FRAMES = 20
# Said with CLOSE_TOO_FAR_BEHIND; the page reconnects and replays what it missed.
TOO_FAR_BEHIND_REASON = "The connection fell too far behind; reconnecting."


def _retrieve(written: asyncio.Future) -> None:
    """Take the outcome of a frame's write, so that a failed one is not logged."""
    if not written.cancelled():
        written.exception()


class Answering:
    """What answers a socket's messages, on the socket or standing in for one of another
    process (handlers/home_monitor.py): one `on_<type>` method per message, and replies."""

    sockets: SocketRegistry

    def send(self, message: dict, urgent: bool = False) -> None:
        raise NotImplementedError

    def send_refusal(self, code: str, message: str, ref: Any = None) -> None:
        self.send({"type": "error", "code": code, "message": message, "ref": ref})

    def send_ack(self, client_id: str, stored: ChatMessage) -> None:
        """The page's message `client_id` is stored as `stored` (docs/protocol.md)."""
        self.send({"type": "ack", "client_id": client_id, "seq": stored.seq,
                   "conversation": stored.conversation})

    async def answer(self, message: Message) -> None:
        """Hand a well-formed message to its method. A refusal by the rules (no operator,
        blocked, ...) is an answer, not a bad frame: a page resending a backlog into one
        must not be closed for it (floods of those meet the rate limits instead)."""
        kind = message.kind()
        ref = getattr(message, "client_id", kind)
        try:
            with self.sockets.handling():  # a graceful shutdown waits for it (drain)
                await getattr(self, f"on_{kind}")(message)
        except LiveHelpError as error:
            self.send_refusal(error.code, error.message, ref)
        except StoreUnavailable as error:
            log.warning("%s refused: %s", kind, error)
            self.send_refusal("store_unavailable",
                              "The database is not reachable; nothing was saved. Retrying.", ref)


class LiveSocket(Answering, tornado.websocket.WebSocketHandler, BaseHandler):
    """Base of the interviewee and operator sockets."""

    # The messages this socket accepts; each type has a method `on_<type>(message)`.
    protocol: Protocol
    # Least time between two frames to this socket (seconds); see send().
    flush_interval = 0.0
    # What the registry counts this socket under; set by get() before the upgrade.
    keys: SocketKeys

    def initialize(self) -> None:
        self._bad_frames = 0
        self._subscriptions: list[tuple[str, Any]] = []
        self._nodelay = False
        self._outbox: list[bytes | Published] = []
        self._last_flush = 0.0
        # Bytes in the outbox, and how many more may join it before send() looks at
        # the stream again (see _make_room).
        self._queued = 0
        self._room: float = self.config.limits.max_queued_bytes
        self._stream: tornado.iostream.IOStream | None = None

    @property
    def sockets(self) -> SocketRegistry:
        """Every open socket of this application (handlers/socket_registry.py)."""
        return self.settings["sockets"]

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Refuse the upgrade with 429 when this browser (or signed-in account) or this
        client address already holds as many sockets as the limits allow; otherwise
        count this socket until it closes. Subclasses check access first, then call
        this. Behind the load balancer `remote_ip` is the address it put last in
        X-Forwarded-For (server.py passes `xheaders`)."""
        limits, sockets = self.config.limits, self.sockets
        user = self.current_user
        self.keys = SocketKeys(account=user.id if user else None, browser=self.participant_key,
                               address=self.request.remote_ip)
        if sockets.per_browser(self.keys.browser) >= limits.sockets_per_browser:
            raise tornado.web.HTTPError(
                429, "You already have %d live help connections open, the most allowed: "
                "close some tabs of this site, then reload this page.", limits.sockets_per_browser)
        if sockets.per_address(self.keys.address) >= limits.sockets_per_address:
            raise tornado.web.HTTPError(
                429, "Your network address already has %d live help connections open, the most "
                "allowed: close some tabs of this site, then try again later.",
                limits.sockets_per_address)
        # Counted from here, before the first await, so that two upgrades at once cannot
        # both pass. super().get() returns when the connection has ended (or was never
        # upgraded); on_close removes the socket sooner when it closes.
        sockets.add(self)
        try:
            await super().get(*args, **kwargs)
        finally:
            sockets.remove(self)

    def check_origin(self, origin: str) -> bool:
        """Only pages served by this server (as the browser sees it) may connect."""
        expected = self.request.host
        if self.config.behind_https_load_balancer:
            expected = self.request.headers.get("X-Forwarded-Host", expected).split(",")[0].strip()
        return urlsplit(origin).netloc.lower() == expected.lower()

    def check_xsrf_cookie(self) -> None:
        """The origin check protects the socket; the upgrade is a GET."""

    # delivery -------------------------------------------------------------------
    # What waits for one socket is bounded by `limits: max queued bytes`: the bytes in
    # its outbox (its own messages as they are queued; a published event, shared by all
    # its subscribers, once it is flushed into this socket's frame) plus the bytes
    # Tornado's IOStream holds because the kernel would not take them yet (a reader
    # that does not read). The latter are the stream's
    # `_total_write_index - _total_write_done_index`: bytes handed to stream.write()
    # minus bytes written to the socket, which IOStream keeps to resolve its write
    # futures (Tornado 6; private, so tests/test_socket_limits.py reads them through
    # queued_bytes() and a Tornado that changed them fails there, loudly). IOStream's
    # own `max_write_buffer_size` is not used: it raises StreamBufferFullError out of
    # any write, pings and the closing frame included, and knows nothing of our outbox.
    #
    # The limit is on how far behind a reader is. A reader with nothing waiting (the
    # kernel took everything) gets what is queued for it at that moment whatever its
    # size: a history page of 4,000-character messages in a script of 3-byte
    # characters is 2.4 MB, and a page that reconnects must get its replay. The next
    # message to a reader still behind closes the socket (1013).

    def send(self, message: dict, urgent: bool = False) -> None:
        """Queue `message`; everything queued during one turn of the event loop (or, for
        sockets with a `flush_interval`, during that interval) leaves in one frame, a
        JSON array when there are several: one frame costs far less than many. An
        `urgent` message (what an operator watches being typed) leaves in this turn.

        This runs once per subscriber for every published event, so for those it only
        appends: a published event is shared by all its subscribers and encoded once,
        when the first socket flushes it; it becomes this socket's bytes in the frame,
        and is counted there. A message of this socket's own is encoded and counted
        here; only when the outbox outgrows the room last measured is the stream
        looked at again."""
        outbox = self._outbox
        if type(message) is Published:
            outbox.append(message)
        else:
            data = encode(message)
            outbox.append(data)
            self._queued += len(data)
            if self._queued > self._room and not self._make_room():
                return
        if len(outbox) == 1 or urgent:
            loop = asyncio.get_running_loop()
            wait = 0 if urgent else self._last_flush + self.flush_interval - loop.time()
            if wait > 0:
                loop.call_later(wait, self.flush_outbox)
            else:
                loop.call_soon(self.flush_outbox)

    def _make_room(self) -> bool:
        """The outbox outgrew the room last measured: measure the stream again. False
        (and the outbox dropped) when the socket is closing or the reader is too far
        behind, which closes it."""
        if self._closing():
            self._outbox, self._queued = [], 0
            return False
        backlog = self._stream_backlog()
        if self._too_far_behind(backlog, self._queued):
            self._fell_behind()
            return False
        # When nothing waits (the reader has caught up), what this turn queues leaves whole.
        self._room = self.config.limits.max_queued_bytes - backlog if backlog else math.inf
        return True

    def _too_far_behind(self, backlog: int, more: int) -> bool:
        """The rule, written once: `more` bytes may not join a backlog that is not empty
        when together they exceed the limit."""
        return backlog > 0 and backlog + more > self.config.limits.max_queued_bytes

    def _stream_backlog(self) -> int:
        """Bytes written to the stream that the kernel has not taken yet."""
        stream = self._stream
        return 0 if stream is None else stream._total_write_index - stream._total_write_done_index

    def queued_bytes(self) -> int:
        """Bytes waiting for this socket: its own messages in the outbox (published
        ones are shared until flushed) plus the stream's backlog."""
        return self._queued + self._stream_backlog()

    def _closing(self) -> bool:
        return self.ws_connection is None or self.ws_connection.is_closing()

    def _fell_behind(self) -> None:
        """Drop what was queued and close with 1013; the page reconnects and replays
        from its last seq. Whatever is sent to the socket from now on is dropped."""
        log.info("closing a socket %d bytes behind (%s)", self.queued_bytes(),
                 self.request.remote_ip)
        self._outbox, self._queued = [], 0
        self.close(CLOSE_TOO_FAR_BEHIND, TOO_FAR_BEHIND_REASON)

    def flush_outbox(self) -> None:
        items, self._outbox = self._outbox, []
        self._queued = 0
        self._last_flush = asyncio.get_running_loop().time()
        if not items or self._closing():
            return
        if not self._nodelay:
            # A chat is answered by two frames (the chat event, then the ack). With
            # Nagle on, the second waits for the client's delayed TCP ack: 40 ms per
            # message. Set here because every socket's first frame goes through here;
            # so is the stream kept for _stream_backlog (ws_connection goes at close).
            self.set_nodelay(True)
            self._nodelay = True
            self._stream = self.ws_connection.stream
        texts = [item if type(item) is bytes else item.as_json() for item in items]
        # Bytes in a text frame: orjson's output is UTF-8 already.
        frame = texts[0] if len(texts) == 1 else b"[" + b",".join(texts) + b"]"
        if self._too_far_behind(self._stream_backlog(), len(frame)):
            return self._fell_behind()
        try:
            written = self.write_message(frame)
        except tornado.websocket.WebSocketClosedError:
            log.debug("dropping messages to a closed socket")
        else:
            # Fails when the connection goes before the frame left (a reader closed for
            # falling behind): expected, so retrieved here rather than logged as an error.
            written.add_done_callback(_retrieve)
        self._room = self.config.limits.max_queued_bytes - self._stream_backlog()

    def subscribe(self, channel: str) -> None:
        self.settings["hub"].subscribe(channel, self.send)
        self._subscriptions.append((channel, self.send))

    def unsubscribe_all(self) -> None:
        for channel, callback in self._subscriptions:
            self.settings["hub"].unsubscribe(channel, callback)
        self._subscriptions.clear()

    # dispatch ----------------------------------------------------------------
    async def on_message(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            return self._refuse("binary_frame", "Frames must be JSON text, not binary.")
        try:
            message = self.protocol.decode(raw)
        except Refused as refused:
            return self._refuse(refused.code, refused.message, refused.ref)
        await self.dispatch(message)

    async def dispatch(self, message: Message) -> None:
        """Hand a well-formed message to its method (see `Answering.answer`)."""
        self._bad_frames = 0
        await self.answer(message)

    def _refuse(self, code: str, text: str, ref: Any = None) -> None:
        self._bad_frames += 1
        self.send_refusal(code, text, ref)
        if self._bad_frames >= MAX_BAD_FRAMES:
            self.flush_outbox()  # the last error goes out before the close frame
            self.close(CLOSE_POLICY_VIOLATION, "too many invalid frames")

    def on_close(self) -> None:
        self.unsubscribe_all()
        self.sockets.remove(self)
