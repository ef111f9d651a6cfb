"""How other parts extend the live-help model, and what of the model they may see.

Co-browsing and phone codes keep state of their own per client and add fields to
what the model says about a client. They see the model only through `ModelView`
and are called back through the one `Extension` protocol; server.py adds them to
the model with `LiveHelp.add_extension` when it builds the services.
"""

from __future__ import annotations

from typing import Protocol

from state.livehelp.hub import Hub
from state.livehelp.records import Client, LiveSession, Operator


class ModelView(Protocol):
    """What an extension reads and calls on the model."""

    hub: Hub

    def find_client(self, key: str) -> Client | None: ...

    def find_session(self, session_id: str) -> LiveSession | None: ...

    def find_operator(self, user_id: str) -> Operator | None: ...

    def publish_session(self, session_id: str) -> None:
        """Tell every page concerned that something about the session changed."""


class Extension:
    """A part of the model kept in its own object. Each method is called by the model
    at the moment its name says; the defaults do nothing."""

    def decorate_entry(self, client: Client, entry: dict) -> None:
        """Add this part's fields to the Monitor's entry of `client`."""

    def decorate_state(self, client: Client, state: dict) -> None:
        """Add this part's fields to the interviewee's `state` message."""

    def client_forgotten(self, client: Client) -> None:
        """`client` left the model: drop what this part keeps about it."""

    def session_unlisted(self, session: LiveSession) -> None:
        """Live help of `session` was turned off: end what needs it listed."""
