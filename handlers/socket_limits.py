"""The limits of one socket, as the two sockets apply them (docs/protocol.md: `hello`,
`history`, `typing`, `screen`, `field`).

What is counted, and how, is `state.livehelp.limits`: `hello` / `history` replays
against one token bucket, typing, screen and field frames against another. Here are
the parts that need the socket: the `error` answering a request refused for now
carries `retry_after`; held field values go out on a timer, cancelled when the
socket closes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from handlers.messages import Message
from state.livehelp.errors import LiveHelpError
from state.livehelp.limits import (
    REPLAY_BURST,
    REPLAYS_PER_SECOND,
    Clock,
    FrameLimits,
    RateLimited,
    TokenBucket,
)

# Delivers one field value: (entry key, field name, value).
FieldDelivery = Callable[[str, str, object], None]
Handler = Callable[[Any, Any], Awaitable[None]]


class SocketLimits:
    """One socket's buckets and its held field values."""

    def __init__(self, clock: Clock) -> None:
        self.replays = TokenBucket(REPLAY_BURST, REPLAYS_PER_SECOND, clock)
        self.frames = FrameLimits(clock)
        self._timer: asyncio.TimerHandle | None = None

    def check_replay(self) -> None:
        """Count one `hello` or `history`; refuses with `rate_limited` over the limit."""
        wait = self.replays.take()
        if wait:
            raise RateLimited("Too many requests", wait)

    def field(self, key: str, name: str, value: object, deliver: FieldDelivery,
              refuse: Callable[[LiveHelpError], None]) -> None:
        """Deliver a field value now, or hold it (the latest per field wins) and deliver
        it when the bucket allows; `refuse` answers a held value refused then."""
        wait = self.frames.field(key, name, value)
        if not wait:
            deliver(key, name, value)
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                wait, self._release_fields, deliver, refuse)

    def _release_fields(self, deliver: FieldDelivery,
                        refuse: Callable[[LiveHelpError], None]) -> None:
        self._timer = None
        ready, wait = self.frames.due_fields()
        for key, name, value in ready:
            try:
                deliver(key, name, value)
            except LiveHelpError as error:
                refuse(error)
        if wait:
            self._timer = asyncio.get_running_loop().call_later(
                wait, self._release_fields, deliver, refuse)

    def drop_fields(self) -> None:
        """Forget held field values (a screen report carries every value; a closed
        socket delivers nothing more)."""
        self.frames.drop_fields()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def limits_of(socket: Any) -> SocketLimits:
    """The socket's limits, made at its first limited frame with the model's clock."""
    limits = socket.__dict__.get("_socket_limits")
    if limits is None:
        limits = socket.__dict__["_socket_limits"] = SocketLimits(socket.livehelp.clock)
    return limits


def close_limits(socket: Any) -> None:
    """The socket closed: cancel what its limits still had to deliver."""
    limits = socket.__dict__.get("_socket_limits")
    if limits is not None:
        limits.drop_fields()


def retry_after(method: Handler) -> Handler:
    """An `on_<type>` method whose `rate_limited` refusal says in `retry_after` how many
    seconds to wait. Not counted as a bad frame: the request was valid, only early."""

    @functools.wraps(method)
    async def limited(self: Any, message: Message) -> None:
        try:
            await method(self, message)
        except RateLimited as refusal:
            self.send({"type": "error", "code": refusal.code, "message": refusal.message,
                       "ref": getattr(message, "client_id", message.kind()),
                       "retry_after": refusal.retry_after})

    return limited
