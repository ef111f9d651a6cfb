"""The attacker process of bench/abuse.py: everything a visitor may try, at once.

Run by bench/abuse.py as `python bench/abuse_attacks.py PLAN.json` (the plan names
the server's port and data directory, the sessions and sign-ins to use); prints its
figures as one JSON object. Its own process, so that its CPU and descriptors are not
the bystander's. Everything is bounded: `ATTACK_SECONDS` in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from pathlib import Path

import tornado.websocket
from common import LiveHelpProcess, connect, raise_fd_limit, raw_websocket, receive

SERVER_FILES = 1024  # the common default `ulimit -n`, which abuse.py gives the server
HEADER_SECONDS = 10.0  # the server's default `limits: header seconds`
BODY_BYTES = 90 * 1024 * 1024
CHAT_TEXT = "x" * 4000  # the longest chat message allowed by default
JUNK = ["not json", '{"type": 5}', '{"type": "nope"}', '{"type": "chat"}', "[" * 200,
        '{"type": "chat", "client_id": "", "text": ""}', "y" * 60_000]
# The attack ends this long after it began: the first wave of half-open connections
# is closed by the header timeout, the connections that waited in the queue by a
# second one.
ATTACK_SECONDS = 2 * HEADER_SECONDS + 4
CONNECT_TIMEOUT = 20.0
MIB = 1024 * 1024
# What a flood's socket raises once the server has closed it.
CLOSED = (ConnectionError, TimeoutError, tornado.websocket.WebSocketClosedError)


async def slow_reader(server: LiveHelpProcess, cookie: str, hold: asyncio.Event) -> str:
    """A Monitor socket that never reads; what became of it once `hold` is set."""
    loop = asyncio.get_running_loop()
    try:
        sock = await raw_websocket(server.port, "/ws/monitor", cookie)
    except OSError:
        return "could not connect"
    if sock is None:
        return "refused"
    try:
        await hold.wait()
        while True:  # now read what waited: did the server close it meanwhile?
            if not await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 2.0):
                return "closed by the server"
    except TimeoutError:  # (a subclass of OSError: first)
        return "still open"
    except OSError:
        return "closed by the server"
    finally:
        sock.close()


async def half_open(port: int, closed: list[float], until: float) -> bool:
    """Half a request header, then silence; True if it connected."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT)
    except (OSError, TimeoutError):
        return False
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(reader.read(), until - time.time())
        closed.append(time.time())
    writer.close()
    return True


async def big_body(port: int) -> dict:
    """POST /login with a 90 MB body, streamed until the server answers."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    began = time.time()
    sent = 0
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, (
            f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {BODY_BYTES}\r\n\r\n").encode())

        async def answer() -> bytes:
            data = b""
            while b"\r\n\r\n" not in data:
                more = await loop.sock_recv(sock, 4096)
                if not more:
                    break
                data += more
            return data

        answered = asyncio.ensure_future(answer())
        chunk = b"a" * 65536
        while sent < BODY_BYTES and not answered.done():
            sending = asyncio.ensure_future(loop.sock_sendall(sock, chunk))
            await asyncio.wait([sending, answered], return_when=asyncio.FIRST_COMPLETED)
            if sending.done():
                sending.result()
                sent += len(chunk)
            else:
                sending.cancel()
        head = await asyncio.wait_for(answered, CONNECT_TIMEOUT)
        status = head.split(b" ", 2)[1].decode() if head else "closed"
    except (ConnectionError, OSError, TimeoutError) as error:
        status = type(error).__name__
    finally:
        sock.close()
    return {"status": status, "sent_mib": sent / MIB, "seconds": time.time() - began}


async def chat_flood(server: LiveHelpProcess, record: dict, number: int, until: float) -> dict:
    """One interviewee sending the longest chat messages as fast as they are answered."""
    from state.store.base import SessionRecord

    session = SessionRecord(id=record["id"], interview=record["interview"])
    counts: dict[str, int] = {}
    ws = await connect(server.ws_url(f"ws/user/{session.id}"),
                       server.session_cookie(session, f"flood-{number}"))
    await receive(ws, "state")
    await ws.write_message(json.dumps({"type": "activate"}))
    sent = 0
    with contextlib.suppress(*CLOSED):
        while time.time() < until:
            for _ in range(32):
                sent += 1
                await ws.write_message(json.dumps(
                    {"type": "chat", "client_id": f"f{number}-{sent}", "text": CHAT_TEXT}))
            answered = 0
            while answered < 32:
                message = await receive(ws, None, 10.0)
                if message["type"] in ("ack", "error"):
                    answered += 1
                    kind = message.get("code", message["type"])
                    counts[kind] = counts.get(kind, 0) + 1
    ws.close()
    return counts


async def frame_flood(server: LiveHelpProcess, record: dict, number: int, until: float) -> dict:
    """Junk frames; when the server closes the socket (20 bad frames), reconnect."""
    from state.store.base import SessionRecord

    session = SessionRecord(id=record["id"], interview=record["interview"])
    frames = closes = 0
    while time.time() < until:
        ws = await connect(server.ws_url(f"ws/user/{session.id}"),
                           server.session_cookie(session, f"junk-{number}"))
        with contextlib.suppress(*CLOSED):
            while time.time() < until:
                await ws.write_message(JUNK[frames % len(JUNK)])
                frames += 1
                await receive(ws, "error", 10.0)
        closes += ws.close_code is not None
        ws.close()
    return {"frames": frames, "closes": closes}


async def attack(plan: dict) -> dict:
    server = LiveHelpProcess(Path(plan["data_dir"]), port=plan["port"])
    hold = asyncio.Event()
    began = time.time()
    until = began + ATTACK_SECONDS
    readers = [asyncio.ensure_future(slow_reader(server, server.signed("lh_user", cookie), hold))
               for cookie in plan["slow_sign_ins"]]
    floods = [asyncio.ensure_future(chat_flood(server, record, n, until))
              for n, record in enumerate(plan["chat_floods"])]
    junk = [asyncio.ensure_future(frame_flood(server, record, n, until))
            for n, record in enumerate(plan["frame_floods"])]
    bodies = [asyncio.ensure_future(big_body(server.port)) for _ in range(3)]
    await asyncio.sleep(0.5)  # the sockets are up; now the descriptors go
    closed: list[float] = []
    half_open_at = time.time()
    connected = await asyncio.gather(*(half_open(server.port, closed, until)
                                       for _ in range(plan["half_open"])))
    hold.set()
    figures = {"half_open_connected": sum(connected), "half_open_closed": len(closed),
               "half_open_last_closed": max(closed, default=0.0) - half_open_at,
               "slow_readers": [await reader for reader in readers],
               "bodies": await asyncio.gather(*bodies),
               "chat_floods": await asyncio.gather(*floods),
               "frame_floods": await asyncio.gather(*junk)}
    return {"began": began, "half_open_at": half_open_at, "ended": time.time(), **figures}


if __name__ == "__main__":
    raise_fd_limit(4 * SERVER_FILES)  # 1,000 half-open connections and the rest
    print(json.dumps(asyncio.run(attack(json.loads(Path(sys.argv[1]).read_text())))))
