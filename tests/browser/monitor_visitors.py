"""People on the Monitor's other end, cheaply, for the Monitor's browser tests: a session
record in the store and an interviewee socket opened with that browser's cookies
(`Visitor`), other operators as bare Monitor sockets (`Colleague`), and ways to look
at one Monitor page's list (`entry_of`, `expect_drawn`, `fully_visible`)."""

from __future__ import annotations

import itertools
import json

from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from state.store.base import SessionRecord, new_id
from tests.conftest import receive

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
HOUSING = "cobrowse_demo"  # "Housing benefit application", help mode, role "advocate"
FRUIT = "fruit"  # "Favorite foods"-like demo, help mode, role "advocate"
_client_ids = itertools.count(1)


class Visitor:
    """One interviewee with live help on, as a bare socket: what a browser sends."""

    def __init__(self, live_server, record: SessionRecord, ws, key_hint: str) -> None:
        self.live_server = live_server
        self.record = record
        self.ws = ws
        self.browser = key_hint

    @classmethod
    async def start(cls, live_server, interview: str = HOUSING, *, mode: str = "help",
                    roles: tuple[str, ...] = ("advocate",), screen: str | None = None,
                    user=None, record: SessionRecord | None = None,
                    browser: str | None = None) -> Visitor:
        """A new session of `interview` (or one more person in `record`) whose page is
        open: its socket said hello (with `screen`), signed in as `user` when given.
        `browser`: the id of a browser that was here before (its page comes back)."""
        store = live_server.services.store
        if record is None:
            record = SessionRecord(id=new_id(), interview=interview, live_help={
                "availability": "available", "mode": mode, "partner_roles": list(roles)})
            await store.save_session(record)
        browser = browser or new_id()
        cookies = [live_server.cookie_for("lh_sessions", json.dumps({record.interview: record.id})),
                   live_server.cookie_for("lh_browser", browser)]
        if user is not None:
            cookies.append(await live_server.user_cookie(user))
        ws = await live_server.websocket(f"ws/user/{record.id}", "; ".join(cookies))
        await receive(ws, "state")
        hello = {"type": "hello", "last_seq": 0}
        if screen:
            hello["screen"] = screen
        await ws.write_message(json.dumps(hello))
        await receive(ws, "state")
        return cls(live_server, record, ws, browser)

    async def state_until(self, predicate) -> dict:
        """The next `state` for which predicate(state) holds (those before it skipped)."""
        while not predicate(state := await receive(self.ws, "state")):
            pass
        return state

    async def activate(self) -> dict:
        """Turn chat on; the first `state` that says it is on (in line, perhaps)."""
        await self.ws.write_message(json.dumps({"type": "activate"}))
        return await self.state_until(lambda state: state["active"])

    async def deactivate(self) -> None:
        """"Turn off chat"."""
        await self.ws.write_message(json.dumps({"type": "deactivate"}))
        await self.state_until(lambda state: not state["active"])

    async def says(self, text: str) -> int:
        """Send a chat message; its seq once stored."""
        return await self._stored({"type": "chat", "text": text})

    async def leaves_message(self, text: str, contact: str = "") -> int:
        """Leave a message for the operators (nobody can chat now); its seq once stored."""
        return await self._stored({"type": "leave_message", "text": text, "contact": contact})

    async def _stored(self, message: dict) -> int:
        client_id = f"v-{next(_client_ids)}"
        await self.ws.write_message(json.dumps({**message, "client_id": client_id}))
        while True:
            answer = await receive(self.ws)
            if answer["type"] == "ack" and answer["client_id"] == client_id:
                return answer["seq"]
            assert answer["type"] != "error", answer

    def leave(self) -> None:
        self.ws.close()


class Colleague:
    """Another operator, as a bare Monitor socket: available for "advocate"."""

    def __init__(self, ws) -> None:
        self.ws = ws

    @classmethod
    async def start(cls, live_server, email: str = "pavel@example.com", available: bool = True) -> Colleague:
        user = await live_server.add_user(email, ("advocate",), first_name="Pavel")
        ws = await live_server.websocket("ws/monitor", await live_server.user_cookie(user))
        await receive(ws, "monitor")
        await ws.write_message(json.dumps({"type": "set_roles", "roles": ["advocate"]}))
        if available:
            await ws.write_message(json.dumps({"type": "set_status", "available": True}))
        colleague = cls(ws)
        await colleague.settled()
        return colleague

    async def settled(self) -> dict:
        """A fresh snapshot, once everything sent before has been handled: the socket
        answers frames in order, so the refusal of a made-up type comes after it."""
        await self.ws.write_message(json.dumps({"type": "hello", "last_seq": {}}))
        await self.ws.write_message(json.dumps({"type": "sentinel"}))
        snapshot = None
        while True:
            message = await receive(self.ws)
            if message["type"] == "monitor":
                snapshot = message
            elif message["type"] == "error" and message.get("ref") == "sentinel":
                return snapshot

    async def entry_of(self, visitor: Visitor) -> dict:
        snapshot = await self.settled()
        return next(e for e in snapshot["sessions"] if e["session"] == visitor.record.id)

    async def says(self, visitor: Visitor, text: str) -> None:
        entry = await self.entry_of(visitor)
        client_id = f"p-{next(_client_ids)}"
        await self.ws.write_message(json.dumps(
            {"type": "chat", "session": entry["key"], "client_id": client_id, "text": text}))
        while True:
            message = await receive(self.ws)
            if message["type"] == "ack" and message["client_id"] == client_id:
                return
            assert message["type"] != "error", message

    async def block(self, visitor: Visitor) -> None:
        entry = await self.entry_of(visitor)
        await self.ws.write_message(json.dumps({"type": "block", "session": entry["key"]}))
        await self.settled()


def entry_of(monitor: Page, visitor: Visitor):
    """The Monitor entry of `visitor`'s session (help mode: its client key is the id)."""
    return monitor.locator(f'#sessions > li.entry[data-id^="{visitor.record.id}"]')


DRAWN_IDS = "() => [...document.querySelectorAll('#sessions > li.entry')].map((li) => li.dataset.id.split('|')[0])"


async def expect_drawn(monitor: Page, visitors: list[Visitor]) -> None:
    """The list draws exactly these sessions' entries, in this order (waits for it)."""
    wanted = [visitor.record.id for visitor in visitors]
    try:
        await monitor.wait_for_function(f"(wanted) => JSON.stringify(({DRAWN_IDS})()) === JSON.stringify(wanted)",
                                        arg=wanted, timeout=5000)
    except PlaywrightTimeout:
        drawn = await monitor.evaluate(DRAWN_IDS)
        names = {visitor.record.id: n for n, visitor in enumerate(visitors)}
        raise AssertionError(f"drawn {[names.get(i, i) for i in drawn]}, wanted {list(range(len(wanted)))}") from None


async def fully_visible(monitor: Page, locator) -> bool:
    """Entirely inside the window and below the sticky header band."""
    return await locator.evaluate("""(element) => {
      const box = element.getBoundingClientRect();
      const top = document.getElementById("console-head").getBoundingClientRect().bottom;
      return box.height > 0 && box.top >= top - 1 && box.bottom <= window.innerHeight + 1;
    }""")


async def many(live_server, count: int, **options) -> list[Visitor]:
    return [await Visitor.start(live_server, **options) for _ in range(count)]

