"""A WebSocket client that reads nothing: the slow reader of tests/test_socket_limits.py."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct

from bench.common import raw_websocket
from tests.conftest import LiveServer


class SlowReader:
    """A WebSocket client over a raw TCP socket that completes the handshake, then sends
    frames and reads nothing (until told to): its small receive buffer fills, and what
    the server writes next waits in the server's memory."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    @classmethod
    async def open(cls, server: LiveServer, path: str, cookie: str) -> SlowReader:
        sock = await raw_websocket(server.port, f"{server.root}{path}", cookie)
        assert sock is not None, "the upgrade was refused"
        return cls(sock)

    async def send(self, message: dict) -> None:
        payload, mask = json.dumps(message).encode(), os.urandom(4)
        assert len(payload) < 126
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        frame = struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked
        await asyncio.get_running_loop().sock_sendall(self.sock, frame)

    async def read_until_close(self) -> tuple[list[dict], int, str]:
        """Read everything now: the messages received, then the close code and reason."""
        loop, messages = asyncio.get_running_loop(), []
        while True:
            frame = self._next_frame()
            if frame is None:
                chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 20), 5)
                assert chunk, "connection ended without a closing frame"
                self.buffer += chunk
                continue
            opcode, payload = frame
            if opcode == 0x8:
                code, = struct.unpack("!H", payload[:2])
                return messages, code, payload[2:].decode()
            decoded = json.loads(payload)
            messages.extend(decoded if isinstance(decoded, list) else [decoded])

    def _next_frame(self) -> tuple[int, bytes] | None:
        buffer = self.buffer
        if len(buffer) < 2:
            return None
        opcode, length, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
        if length == 126:
            (length,), start = struct.unpack("!H", buffer[2:4]), 4
        elif length == 127:
            (length,), start = struct.unpack("!Q", buffer[2:10]), 10
        if len(buffer) < start + length:
            return None
        self.buffer = buffer[start + length:]
        return opcode, buffer[start:start + length]

    def close(self) -> None:
        self.sock.close()
