"""What one HTTP connection may cost the server: header and idle timeouts, a body
limit answered with a 413 before the body is read, and an accept loop that stays
calm when the process runs out of file descriptors.

`make_http_server(app, config)` builds the server `server.py` listens with.

- **Header timeout** (`limits: header seconds`): Tornado has one timer for "waiting
  for a request's headers", set from `idle_connection_timeout`, so a connection that
  sends half a header could stay for the whole idle timeout. Here the first request of
  every connection must arrive within `header seconds`; between two requests of a
  kept-alive connection the timer is `idle connection seconds` (Tornado cannot tell an
  idle connection from one sending its next headers slowly; an attacker gains nothing
  from that he could not get by idling).
- **Body limit** (`limits: max body bytes`): a request that declares a larger
  `Content-Length` gets `413` with words as soon as its headers are in, without its
  body being read into memory; a chunked body gets the same answer once it passes the
  limit. What the client goes on sending is read and dropped for a short while (up to
  `LINGER_BYTES` / `LINGER_SECONDS`) so that it can read the answer before the
  connection closes.
- **Accept loop**: when `accept()` fails because the process (EMFILE) or the system
  (ENFILE) has no file descriptor left, the listening socket is left alone for
  `ACCEPT_PAUSE_SECONDS` (new connections wait in the kernel's queue) instead of being
  retried at once, which spins a core and writes a log line per attempt. One warning
  per `REFUSED_LOG_SECONDS` says how often it happened. Open connections are served
  throughout.
"""

from __future__ import annotations

import copy
import errno
import logging
import re
import resource
import socket
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import tornado.httpserver
import tornado.ioloop
import tornado.web
from tornado import httputil
from tornado.concurrent import Future
from tornado.http1connection import HTTP1Connection

from state.config import Config, LimitsFile

log = logging.getLogger(__name__)

# Errors of accept() that mean "no file descriptor (or kernel memory) for a new
# connection right now": retrying at once cannot succeed.
OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# How long the listening socket is left alone after such an error: long enough that the
# retries cost nothing measurable (2 a second), short enough that a connection waiting
# in the queue is taken soon after a descriptor is free again.
ACCEPT_PAUSE_SECONDS = 0.5
# At most one warning per this many seconds about running out of descriptors.
REFUSED_LOG_SECONDS = 10.0
# Connections taken per readiness event before the loop serves others (Tornado's value).
ACCEPTS_PER_EVENT = 128
# A request body must arrive within this long once its headers are in: the largest form
# (`max body bytes`, 256 KB by default) over a slow mobile link (~10 KB/s) takes ~25 s.
BODY_TIMEOUT_SECONDS = 60.0
# Request headers larger than this close the connection; a browser sends a few KB.
MAX_HEADER_BYTES = 64 * 1024
# Tornado checks its own body limit *after* ours and answers it with a bare 400; ours
# is the limit, so Tornado's is set out of reach.
TORNADO_BODY_LIMIT = 1 << 62
# After a 413, what the client still sends is read and dropped for this long / this
# much, so that a client busy sending can read the answer (closing at once with unread
# data makes the kernel reset the connection, and many clients then lose the answer).
LINGER_SECONDS = 2.0
LINGER_BYTES = 8 * 1024 * 1024
TOO_LARGE = "Content Too Large"


def make_http_server(app: tornado.web.Application, config: Config) -> LimitedHTTPServer:
    """The HTTP server for `app` with the configured limits (`limits:` in the config)."""
    return LimitedHTTPServer(app, limits=config.limits,
                             xheaders=config.behind_https_load_balancer)


def too_large_text(limit: int) -> bytes:
    """The words of the 413 answer."""
    size = f"{limit // 1024} KB" if limit >= 1024 else f"{limit} bytes"
    return (f"This request is too large: the server accepts at most {size}. "
            "Nothing was saved.\n").encode()


def declared_length(headers: httputil.HTTPHeaders) -> int | None:
    """The Content-Length a request declares (None when absent or malformed: Tornado
    answers a malformed one with 400 itself)."""
    value = headers.get("Content-Length")
    if value is None:
        return None
    pieces = re.split(r",[ \t]*", value.strip())
    if not all(piece.isdigit() for piece in pieces):
        return None
    return max(int(piece) for piece in pieces)


class BodyLimit(httputil.HTTPMessageDelegate):
    """Wraps the application's delegate for one request; refuses a body over `limit`
    with 413 before the application sees it."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, connection: HTTP1Connection,
                 limit: int) -> None:
        self.delegate = delegate
        self.connection = connection
        self.limit = limit
        self.received = 0
        self.refused = False
        self._dropped = 0
        self._flushed: Future[None] | None = None
        self._linger: object | None = None
        self._request: httputil.RequestStartLine | httputil.ResponseStartLine | None = None

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        self._request = start_line
        length = declared_length(headers)
        if length is not None and length > self.limit:
            self._refuse(waits_for_continue=headers.get("Expect", "").lower() == "100-continue")
            return None
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.refused:
            self._dropped += len(chunk)
            if self._dropped > LINGER_BYTES:
                self._end()
            return None
        self.received += len(chunk)
        if self.received > self.limit:  # a chunked body, whose size was not declared
            self.delegate.on_connection_close()  # the application forgets the request
            self._refuse(waits_for_continue=False)
            return None
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        if self.refused:
            self._end()
        else:
            self.delegate.finish()

    def on_connection_close(self) -> None:
        if self.refused:
            self._cancel_linger()
        else:
            self.delegate.on_connection_close()

    def _refuse(self, waits_for_continue: bool) -> None:
        self.refused = True
        # One line per refused request, as the access log has for every other one.
        log.info("413 %s %s (%s): body over %d bytes", getattr(self._request, "method", ""),
                 getattr(self._request, "path", ""),
                 getattr(self.connection.context, "remote_ip", ""), self.limit)
        body = too_large_text(self.limit)
        headers = httputil.HTTPHeaders({"Content-Type": "text/plain; charset=utf-8",
                                        "Content-Length": str(len(body)),
                                        "Connection": "close"})
        self._flushed = self.connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 413, TOO_LARGE), headers, body)
        if waits_for_continue:  # the client sends nothing more: close once it is written
            self._end()
            return
        loop = tornado.ioloop.IOLoop.current()
        self._linger = loop.call_later(LINGER_SECONDS, self._end)

    def _end(self) -> None:
        """The answer is complete: close the connection once it has been written."""
        self._cancel_linger()
        if self._flushed is None:
            return
        flushed, self._flushed = self._flushed, None
        connection = self.connection
        connection.finish()
        flushed.add_done_callback(lambda _future: connection.close())

    def _cancel_linger(self) -> None:
        if self._linger is not None:
            tornado.ioloop.IOLoop.current().remove_timeout(self._linger)
            self._linger = None


class CalmAcceptor:
    """Accepts connections on one listening socket, pausing when descriptors run out."""

    def __init__(self, sock: socket.socket, on_connection: Callable[[socket.socket, Any], None],
                 pause: float = ACCEPT_PAUSE_SECONDS,
                 report_every: float = REFUSED_LOG_SECONDS) -> None:
        self.sock = sock
        self.on_connection = on_connection
        self.pause = pause
        self.report_every = report_every
        self.failures = 0  # accept() failures not reported yet
        self._loop = tornado.ioloop.IOLoop.current()
        self._watching = False
        self._resume: object | None = None
        self._report: object | None = None
        self._last_report = float("-inf")
        self._stopped = False

    def start(self) -> None:
        self._watch()

    def stop(self) -> None:
        """Stop accepting for good (the socket is the caller's to close)."""
        self._stopped = True
        self._unwatch()
        for handle in (self._resume, self._report):
            if handle is not None:
                self._loop.remove_timeout(handle)
        self._resume = self._report = None
        if self.failures:
            self._log_failures()

    def _watch(self) -> None:
        self._resume = None
        if not self._stopped and not self._watching:
            self._loop.add_handler(self.sock, self._accept, tornado.ioloop.IOLoop.READ)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching:
            self._loop.remove_handler(self.sock)
            self._watching = False

    def _accept(self, sock: socket.socket, events: int) -> None:
        for _ in range(ACCEPTS_PER_EVENT):
            if not self._watching:
                return
            try:
                connection, address = self.sock.accept()
            except BlockingIOError:
                return  # every waiting connection is taken
            except ConnectionAbortedError:
                continue  # closed by the peer while it waited in the queue
            except OSError as error:
                if error.errno not in OUT_OF_DESCRIPTORS:
                    raise
                self._out_of_descriptors()
                return
            self.on_connection(connection, address)

    def _out_of_descriptors(self) -> None:
        self._unwatch()
        self._resume = self._loop.call_later(self.pause, self._watch)
        self.failures += 1
        if self._report is None:
            wait = max(self._last_report + self.report_every - self._loop.time(), 0.0)
            self._report = self._loop.call_later(wait, self._log_failures)

    def _log_failures(self) -> None:
        self._report = None
        self._last_report = self._loop.time()
        failures, self.failures = self.failures, 0
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        log.warning("Too many open files (limit %d): stopped accepting new connections %d "
                    "times for %g s in the last %g s; they wait in the queue, open "
                    "connections are still served.",
                    soft_limit, failures, self.pause, self.report_every)


class LimitedHTTPServer(tornado.httpserver.HTTPServer):
    """Tornado's HTTPServer with the limits described in this module's docstring."""

    def initialize(self, request_callback: Any, limits: LimitsFile | None = None,
                   **kwargs: Any) -> None:
        limits = limits or LimitsFile()
        self.limits = limits
        self.acceptors: list[CalmAcceptor] = []
        super().initialize(request_callback, idle_connection_timeout=limits.idle_connection_seconds,
                           body_timeout=BODY_TIMEOUT_SECONDS, max_body_size=TORNADO_BODY_LIMIT,
                           max_header_size=MAX_HEADER_BYTES, **kwargs)
        self._first_request_params = copy.copy(self.conn_params)
        self._first_request_params.header_timeout = limits.header_seconds
        self._served: weakref.WeakSet[object] = weakref.WeakSet()

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """Accept on `sockets` with a CalmAcceptor each (instead of Tornado's loop, which
        retries at once and logs every failed attempt)."""
        for sock in sockets:
            # What Tornado's own accept loop hands each connection to (TCPServer).
            acceptor = CalmAcceptor(sock, self._handle_connection)
            acceptor.start()
            self.acceptors.append(acceptor)

    def stop(self) -> None:
        """Stop accepting and close the listening sockets; open connections stay."""
        for acceptor in self.acceptors:
            acceptor.stop()
            acceptor.sock.close()
        self.acceptors.clear()
        super().stop()

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        assert isinstance(request_conn, HTTP1Connection)
        # The first request of a connection must arrive within `header seconds`; later
        # ones on a kept-alive connection within `idle connection seconds`. Tornado
        # reads the timeout from the request's parameters when it starts waiting.
        if server_conn in self._served:
            request_conn.params = self.conn_params
        else:
            self._served.add(server_conn)
            request_conn.params = self._first_request_params
        delegate = super().start_request(server_conn, request_conn)
        return BodyLimit(delegate, request_conn, self.limits.max_body_bytes)
