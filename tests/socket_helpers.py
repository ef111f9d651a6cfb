"""Helpers for protocol tests: people with sockets on a live server."""

from __future__ import annotations

import json
from dataclasses import dataclass

from state.store.base import SessionRecord, new_id
from tests.conftest import LiveServer, receive


async def live_session(server: LiveServer, availability="available", mode="help",
                       roles=("advocate",)) -> SessionRecord:
    record = SessionRecord(id=new_id(), interview="demo", live_help={
        "availability": availability, "mode": mode, "partner_roles": list(roles)})
    await server.services.store.save_session(record)
    return record


def session_cookie(server: LiveServer, record: SessionRecord, browser: str = "") -> str:
    """Cookies of a browser that holds `record`, with browser id `browser` (random if empty)."""
    return "; ".join([server.cookie_for("lh_sessions", json.dumps({record.interview: record.id})),
                      server.cookie_for("lh_browser", browser or new_id())])


@dataclass
class Person:
    ws: object

    async def send(self, **message) -> None:
        await self.ws.write_message(json.dumps(message))

    async def receive(self, kind: str | None = None, timeout: float = 5.0) -> dict:
        return await receive(self.ws, kind, timeout)

    async def until(self, kind: str, predicate, timeout: float = 5.0) -> dict:
        """Next message of `kind` for which predicate(message) holds."""
        while True:
            message = await self.receive(kind, timeout)
            if predicate(message):
                return message

    def close(self) -> None:
        self.ws.close()


async def interviewee(server: LiveServer, record: SessionRecord, browser: str = "") -> Person:
    ws = await server.websocket(f"ws/user/{record.id}", session_cookie(server, record, browser))
    person = Person(ws)
    await person.receive("state")
    return person


async def operator(server: LiveServer, email: str = "op@example.com", roles=("advocate",),
                   available: bool = True, first_name: str = "Olga") -> Person:
    user = await server.add_user(email, ("advocate",), first_name=first_name)
    ws = await server.websocket("ws/monitor", await server.user_cookie(user))
    person = Person(ws)
    person.user = user
    await person.receive("monitor")
    if roles:
        await person.send(type="set_roles", roles=list(roles))
        await person.until("monitor", lambda m: m["operator"]["roles"] == sorted(roles))
    if available:
        await person.send(type="set_status", available=True)
        await person.until("monitor", lambda m: m["operator"]["available"])
    return person


async def chatting(server: LiveServer, browser: str = ""):
    """A help-mode session whose user activated chat with an available operator:
    (record, user, operator, the operator's `session` entry once it shows "on")."""
    record = await live_session(server)
    user = await interviewee(server, record, browser)
    op = await operator(server)
    await user.send(type="activate")
    entry = await op.until("session", lambda m: m["session"]["status"] == "on")
    return record, user, op, entry["session"]
