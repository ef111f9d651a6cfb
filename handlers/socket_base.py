"""WebSocket base: authentication before the upgrade, origin check, size limit,
decoding into the declared messages (handlers/messages.py) and dispatch by `type`
to one `on_<type>` method per message.

See docs/protocol.md. A refused frame gets an `error` reply and changes nothing;
the socket stays open unless the client keeps sending garbage.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import tornado.websocket

from handlers.base import BaseHandler
from handlers.messages import Message, Protocol, Refused
from state.livehelp.errors import LiveHelpError
from state.livehelp.hub import Published, encode
from state.store.base import StoreUnavailable

log = logging.getLogger(__name__)

# Consecutive refused frames before the socket is closed: enough for a buggy
# client to recover, few enough that a flood costs the server little.
MAX_BAD_FRAMES = 20
CLOSE_POLICY_VIOLATION = 1008


class LiveSocket(tornado.websocket.WebSocketHandler, BaseHandler):
    """Base of the interviewee and operator sockets."""

    # The messages this socket accepts; each type has a method `on_<type>(message)`.
    protocol: Protocol
    # Least time between two frames to this socket (seconds); see send().
    flush_interval = 0.0

    def initialize(self) -> None:
        self._bad_frames = 0
        self._subscriptions: list[tuple[str, Any]] = []
        self._nodelay = False
        self._outbox: list[bytes | Published] = []
        self._last_flush = 0.0

    def check_origin(self, origin: str) -> bool:
        """Only pages served by this server (as the browser sees it) may connect."""
        expected = self.request.host
        if self.config.behind_https_load_balancer:
            expected = self.request.headers.get("X-Forwarded-Host", expected).split(",")[0].strip()
        return urlsplit(origin).netloc.lower() == expected.lower()

    def check_xsrf_cookie(self) -> None:
        """The origin check protects the socket; the upgrade is a GET."""

    # delivery -------------------------------------------------------------------
    def send(self, message: dict, urgent: bool = False) -> None:
        """Queue `message`; everything queued during one turn of the event loop (or, for
        sockets with a `flush_interval`, during that interval) leaves in one frame, a
        JSON array when there are several: one frame costs far less than many. An
        `urgent` message (what an operator watches being typed) leaves in this turn.

        This runs once per subscriber for every published event, so it only appends;
        a published event is encoded once, when the first socket flushes it."""
        outbox = self._outbox
        outbox.append(message if type(message) is Published else encode(message))
        if len(outbox) == 1 or urgent:
            loop = asyncio.get_running_loop()
            wait = 0 if urgent else self._last_flush + self.flush_interval - loop.time()
            if wait > 0:
                loop.call_later(wait, self.flush_outbox)
            else:
                loop.call_soon(self.flush_outbox)

    def flush_outbox(self) -> None:
        items, self._outbox = self._outbox, []
        self._last_flush = asyncio.get_running_loop().time()
        if not items or self.ws_connection is None or self.ws_connection.is_closing():
            return
        texts = [item if type(item) is bytes else item.as_json() for item in items]
        if not self._nodelay:
            # A chat is answered by two frames (the chat event, then the ack). With
            # Nagle on, the second waits for the client's delayed TCP ack: 40 ms per
            # message. Set here because every socket's first frame goes through here.
            self.set_nodelay(True)
            self._nodelay = True
        try:
            # Bytes in a text frame: orjson's output is UTF-8 already.
            self.write_message(texts[0] if len(texts) == 1 else b"[" + b",".join(texts) + b"]")
        except tornado.websocket.WebSocketClosedError:
            log.debug("dropping messages to a closed socket")

    def subscribe(self, channel: str) -> None:
        self.settings["hub"].subscribe(channel, self.send)
        self._subscriptions.append((channel, self.send))

    def unsubscribe_all(self) -> None:
        for channel, callback in self._subscriptions:
            self.settings["hub"].unsubscribe(channel, callback)
        self._subscriptions.clear()

    def send_refusal(self, code: str, message: str, ref: Any = None) -> None:
        self.send({"type": "error", "code": code, "message": message, "ref": ref})

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
        kind = message.kind()
        ref = getattr(message, "client_id", kind)
        try:
            await getattr(self, f"on_{kind}")(message)
        except LiveHelpError as error:
            return self._refuse(error.code, error.message, ref)
        except StoreUnavailable as error:
            log.warning("%s refused: %s", kind, error)
            return self.send_refusal("store_unavailable",
                                   "The database is not reachable; nothing was saved. Retrying.", ref)
        self._bad_frames = 0

    def _refuse(self, code: str, text: str, ref: Any = None) -> None:
        self._bad_frames += 1
        self.send_refusal(code, text, ref)
        if self._bad_frames >= MAX_BAD_FRAMES:
            self.flush_outbox()  # the last error goes out before the close frame
            self.close(CLOSE_POLICY_VIOLATION, "too many invalid frames")

    def on_close(self) -> None:
        self.unsubscribe_all()
