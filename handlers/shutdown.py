"""Graceful shutdown of the HTTP side (SIGTERM, SIGINT): stop accepting, let the
messages being handled finish (stored and acknowledged), tell every socket that the
server is restarting (close code 1012, docs/protocol.md), wait for the sockets to go,
all within a bound. `server.serve()` stops the services (the live state, the store)
only afterwards: a socket still reading must find the state it needs.

A page closed with 1012 reconnects, says `hello` with its last seq and resends what
was not acknowledged; the store keeps one copy per `client_id`, so a message stored
just before the close but not acknowledged is not doubled.
"""

from __future__ import annotations

import asyncio
import logging

import tornado.tcpserver

from handlers.socket_base import LiveSocket
from handlers.socket_registry import CLOSE_SERVER_RESTART, SocketRegistry

log = logging.getLogger(__name__)

# From the signal to the end of stop_serving(), at most: `docker stop` sends SIGKILL
# after 10 s, and the store must still be closed after this.
STOP_SERVING_SECONDS = 8.0
# Of that, for the messages being handled: a chat message is stored in milliseconds;
# one that waits for an unreachable store longer is refused anyway.
DRAIN_SECONDS = 3.0
# How often the sockets still closing are counted while waiting for them.
CLOSED_POLL_SECONDS = 0.05
RESTART_REASON = "The server is restarting."


async def stop_serving(server: tornado.tcpserver.TCPServer, sockets: SocketRegistry,
                       seconds: float = STOP_SERVING_SECONDS) -> None:
    """Stop accepting connections on `server`, drain and close every socket in
    `sockets` with 1012; returns within about `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    server.stop()
    if not await sockets.drain(min(DRAIN_SECONDS, seconds)):
        log.warning("shutting down with %d messages still being handled", sockets.in_flight)
    for socket in sockets.sockets():
        if isinstance(socket, LiveSocket):
            socket.flush_outbox()  # the acks just made leave before the closing frame
    closing = sockets.close_all(CLOSE_SERVER_RESTART, RESTART_REASON)
    log.info("closing %d sockets: %s", closing, RESTART_REASON)
    # A socket leaves the registry once the page answers the closing frame (Tornado
    # gives it 5 s); frames it sent meanwhile are still handled.
    while len(sockets) and loop.time() < deadline:
        await asyncio.sleep(CLOSED_POLL_SECONDS)
    await sockets.drain(max(deadline - loop.time(), 0.0))
    if len(sockets):
        log.warning("%d sockets had not closed when the time ran out", len(sockets))
