"""Reading server frames in tests: a frame holds one message, or a JSON array of the
messages the server queued during one turn of its event loop (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

import tornado.websocket


def decode_frame(raw: str) -> list[dict[str, Any]]:
    decoded = json.loads(raw)
    return decoded if isinstance(decoded, list) else [decoded]


async def next_message(ws: tornado.websocket.WebSocketClientConnection,
                       timeout: float = 5.0) -> dict[str, Any] | None:
    """The next message from `ws` (None once it is closed), unpacking batched frames."""
    pending: deque = ws.__dict__.setdefault("_livehelp_pending", deque())
    while not pending:
        raw = await asyncio.wait_for(ws.read_message(), timeout)
        if raw is None:
            return None
        pending.extend(decode_frame(raw))
    return pending.popleft()
