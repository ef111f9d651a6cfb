"""Helpers for tests that drive the live-help model without a server."""

from __future__ import annotations

from dataclasses import dataclass, field

from state.config import Config
from state.livehelp.hub import Hub
from state.livehelp.model import LiveHelp
from state.store.base import SessionRecord, User, new_id
from tests.clock import FakeClock


@dataclass(eq=False)
class Inbox:
    """Collects what the hub publishes to one channel."""

    messages: list[dict] = field(default_factory=list)

    def __call__(self, message: dict) -> None:
        self.messages.append(message)

    def of_type(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m["type"] == kind]


def make_model(store, **config) -> tuple[LiveHelp, FakeClock]:
    clock = FakeClock()
    return LiveHelp(store, Hub(), Config(**config), clock=clock), clock


def make_user(email: str, privileges=("user",), first: str = "", last: str = "") -> User:
    return User(id=new_id(), email=email, password_hash="x", first_name=first, last_name=last,
                privileges=list(privileges))


def live_record(availability="available", mode="help", roles=("advocate",)) -> SessionRecord:
    return SessionRecord(id=new_id(), interview="demo", live_help={
        "availability": availability, "mode": mode, "partner_roles": list(roles)})
