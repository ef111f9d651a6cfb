"""Errors the live-help rules raise; sockets turn them into `error` replies."""

from __future__ import annotations


class LiveHelpError(Exception):
    """A request the rules refuse. `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InterviewContextError(RuntimeError):
    """A live-help API function was called outside a running interview."""
