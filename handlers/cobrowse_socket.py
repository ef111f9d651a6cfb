"""Observe and control (co-browsing) messages of the two sockets, as mixins.

The interviewee's socket reports the page's screen and field changes; the
operator's socket observes, takes control, changes fields and presses buttons.
The rules live in `state.cobrowse.CoBrowse`; see docs/protocol.md.
"""

from __future__ import annotations

from handlers import messages
from handlers.socket_limits import close_limits, limits_of, retry_after
from state.cobrowse.control import CoBrowse, observe_channel
from state.cobrowse.screen_view import ScreenView, describe_page
from state.interview.runner import END_SCREEN, InterviewRuntimeError
from state.livehelp.errors import LiveHelpError
from state.store.base import new_id


class UserCoBrowseMixin:
    """Interviewee socket: `screen` (on open and each page) and `field` (each change)."""

    @property
    def cobrowse(self) -> CoBrowse:
        return self.settings["cobrowse"]

    @retry_after
    async def on_screen(self, message: messages.Screen) -> None:
        limits = limits_of(self)
        limits.frames.check_screen()
        limits.drop_fields()  # this report carries every value
        view = await self.render_screen(message.screen)
        self.cobrowse.page_screen(self.client.key, view, message.values)

    @retry_after
    async def on_field(self, message: messages.FieldChange) -> None:
        limits_of(self).field(
            self.client.key, message.name, message.value, self.cobrowse.page_field,
            lambda error: self.send_refusal(error.code, error.message, message.kind()))

    async def render_screen(self, screen_id: str) -> ScreenView:
        """The server's own rendering of the screen the page says it shows, for this
        browser's viewer; the page's word decides only which of the interview's screens."""
        record = await self.store.get_session(self.client.session_id)
        interview = self.interviews.get(record.interview) if record else None
        if interview is None:
            raise LiveHelpError("unknown_session", "That session no longer exists.")
        screen = END_SCREEN if screen_id == END_SCREEN.id else interview.screens.get(screen_id)
        viewer = self.viewer(record)
        if screen is None or (screen.operators_only and not viewer.joining_operator):
            raise LiveHelpError("unknown_screen", "That screen is not part of this interview.")
        async with self.api_context(interview, record):
            try:
                page = self.interviews.run(interview, record, viewer).page(screen)
            except InterviewRuntimeError:
                raise LiveHelpError("screen_failed", "That screen could not be shown.") from None
        return describe_page(page)

    def cobrowse_closed(self) -> None:
        """Call after the live-help model counted the closed socket."""
        close_limits(self)
        client = self.client
        if client is not None and client.sockets == 0:
            self.cobrowse.page_closed(client.key)


class MonitorCoBrowseMixin:
    """Operator socket: observe / stop_observe, control / stop_control, set_field, press."""

    def initialize(self) -> None:
        super().initialize()
        # Control belongs to one socket, not to the operator: a second tab of the same
        # operator must not type into a screen the first one is driving.
        self.cobrowse_token = new_id()
        self.watching: set[str] = set()

    @property
    def cobrowse(self) -> CoBrowse:
        return self.settings["cobrowse"]

    def _deliver_observed(self, message: dict) -> None:
        if message.get("type") == "observe_end":
            self.unwatch(message.get("session", ""))
        self.send(message, urgent=True)

    def watch(self, key: str) -> None:
        if key not in self.watching:
            self.watching.add(key)
            self.settings["hub"].subscribe(observe_channel(key), self._deliver_observed)

    def unwatch(self, key: str) -> None:
        if key in self.watching:
            self.watching.discard(key)
            self.settings["hub"].unsubscribe(observe_channel(key), self._deliver_observed)

    async def on_observe(self, message: messages.Observe) -> None:
        key = message.session
        self.cobrowse.observable(key)
        await self.audit("observe", key)
        # No await between subscribing and the snapshot: no change can fall in between.
        snapshot = self.cobrowse.observe(key, self.operator_id, self.cobrowse_token)
        self.watch(key)
        self.send(snapshot)

    async def on_stop_observe(self, message: messages.StopObserve) -> None:
        key = message.session
        self.cobrowse.stop_observing(key, self.cobrowse_token)
        self.unwatch(key)
        self.send({"type": "observe_end", "session": key, "reason": ""})

    async def on_control(self, message: messages.Control) -> None:
        key = message.session
        self.cobrowse.may_control(key, self.operator_id, self.cobrowse_token)
        await self.audit("control", key)
        name = self.current_user.first_name or self.current_user.email
        snapshot = self.cobrowse.take_control(key, self.operator_id, name, self.cobrowse_token)
        self.watch(key)
        self.send(snapshot)

    async def on_stop_control(self, message: messages.StopControl) -> None:
        key = message.session
        self.cobrowse.observable(key)
        self.cobrowse.release_control(key, self.cobrowse_token)
        await self.audit("stop control", key)

    @retry_after
    async def on_set_field(self, message: messages.SetField) -> None:
        token = self.cobrowse_token
        limits_of(self).field(
            message.session, message.name, message.value,
            lambda key, name, value: self.cobrowse.operator_set_field(key, token, name, value),
            lambda error: self.send_refusal(error.code, error.message, message.kind()))

    async def on_press(self, message: messages.Press) -> None:
        self.cobrowse.operator_press(message.session, self.cobrowse_token, message.action)

    def on_close(self) -> None:
        super().on_close()
        close_limits(self)
        for key in list(self.watching):
            self.unwatch(key)
        self.cobrowse.socket_closed(self.cobrowse_token)
