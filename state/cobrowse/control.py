"""Co-browsing: operators observe an interviewee's current screen and may take control of it.

No Tornado here. The interviewee's page reports its screen and each field change;
the model keeps the latest screen and values per client and publishes them on
the Hub channel "observe:<client key>", which each observing operator socket
subscribes to. Control is a lock per client held by one operator socket.

Privacy: values of password and `private: true` fields, and of fields not on the
reported screen, are dropped or refused here, whatever a page sends.

Per-client state is dropped when the client is forgotten, when its last socket
closes (the screen), and when its session stops being observable (watchers and
control).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from state.cobrowse.screen_view import FieldValue, ScreenView, clean_value
from state.config import Config
from state.livehelp.errors import LiveHelpError
from state.livehelp.extension import Extension, ModelView
from state.livehelp.records import Client, LiveSession


@dataclass
class LiveScreen:
    """The screen a client's page reported and its current public values."""

    view: ScreenView
    values: dict[str, FieldValue] = field(default_factory=dict)


@dataclass
class Controller:
    operator_id: str
    token: str  # the operator socket holding control
    name: str


def observe_channel(key: str) -> str:
    return f"observe:{key}"


class CoBrowse(Extension):
    """Screens, watchers and control locks, indexed by client key."""

    def __init__(self, model: ModelView, config: Config) -> None:
        self.model = model
        self.hub = model.hub
        self.config = config
        self.screens: dict[str, LiveScreen] = {}
        self.watchers: dict[str, dict[str, str]] = {}  # key -> {socket token: operator id}
        self.controllers: dict[str, Controller] = {}

    # ------------------------------------------------------------ the model's callbacks
    def decorate_entry(self, client: Client, entry: dict) -> None:
        controller = self.controllers.get(client.key)
        entry["observers"] = len(self.watchers.get(client.key, ()))
        entry["controller_id"] = controller.operator_id if controller else None
        entry["controller_name"] = controller.name if controller else None

    def decorate_state(self, client: Client, state: dict) -> None:
        # With notification off the user is not told about observation (the
        # reference's silent behaviour); control always shows, since it disables buttons.
        watched = bool(self.watchers.get(client.key))
        state["observed"] = watched and self.config.notify_user_when_observed
        state["controlled"] = client.key in self.controllers

    # ------------------------------------------------------------ operators
    def observable(self, key: str) -> Client:
        """The client behind `key` if its screen may be observed now; refuses otherwise."""
        client = self.model.find_client(key)
        if client is None:
            raise LiveHelpError("unknown_session", "That session is not active (ended or unknown).")
        session = self.model.find_session(client.session_id)
        if session is None or not session.listed:
            raise LiveHelpError("not_observable", "This session's live help is off; its screen "
                                "cannot be observed.")
        return client

    def observe(self, key: str, operator_id: str, token: str) -> dict:
        """Start (or refresh) watching; returns the full current state for that socket."""
        client = self.observable(key)
        watchers = self.watchers.setdefault(key, {})
        is_new = token not in watchers
        watchers[token] = operator_id
        if is_new:
            self.model.publish_session(client.session_id)
        return self.snapshot(key)

    def snapshot(self, key: str) -> dict:
        screen = self.screens.get(key)
        return {
            "type": "observe_screen", "session": key,
            "screen": screen.view.description if screen else None,
            "values": dict(screen.values) if screen else {},
        }

    def stop_observing(self, key: str, token: str) -> None:
        """The socket stops watching `key` (and gives up control of it)."""
        self._release(key, token)
        watchers = self.watchers.get(key, {})
        if watchers.pop(token, None) is not None:
            if not watchers:
                del self.watchers[key]
            self._publish(key)

    def may_control(self, key: str, operator_id: str, token: str) -> Client:
        """The client if this socket may take control of it; refuses while another holds it."""
        client = self.observable(key)
        holder = self.controllers.get(key)
        if holder is not None and holder.token != token:
            who = ("You control this screen in another window" if holder.operator_id == operator_id
                   else f"{holder.name} is controlling this screen")
            raise LiveHelpError("controlled", f"{who}; only one operator may control it at a time.")
        return client

    def take_control(self, key: str, operator_id: str, name: str, token: str) -> dict:
        """Lock `key` for this socket; observing it too. One controller per session."""
        client = self.may_control(key, operator_id, token)
        self.watchers.setdefault(key, {})[token] = operator_id
        self.controllers[key] = Controller(operator_id, token, name)
        self.model.publish_session(client.session_id)
        return self.snapshot(key)

    def release_control(self, key: str, token: str) -> None:
        if self.controllers.get(key, Controller("", "", "")).token != token:
            raise LiveHelpError("not_controlling", "You are not controlling this screen.")
        self._release(key, token)

    def _release(self, key: str, token: str) -> None:
        holder = self.controllers.get(key)
        if holder is not None and holder.token == token:
            del self.controllers[key]
            self._publish(key)

    def socket_closed(self, token: str) -> None:
        """An operator socket went away: its watching ends and its control is released."""
        for key in [k for k, c in self.controllers.items() if c.token == token]:
            self._release(key, token)
        for key in [k for k, w in self.watchers.items() if token in w]:
            self.stop_observing(key, token)

    def _holder(self, key: str, token: str) -> LiveScreen:
        self.observable(key)
        holder = self.controllers.get(key)
        if holder is None or holder.token != token:
            raise LiveHelpError("not_controlling", "Take control of this screen first.")
        screen = self.screens.get(key)
        if screen is None:
            raise LiveHelpError("no_screen", "The user's page has not reported its screen yet.")
        return screen

    def operator_set_field(self, key: str, token: str, name: str, value: object) -> None:
        """The controlling operator changed a field: it changes in the user's page."""
        screen = self._holder(key, token)
        cleaned = clean_value(screen.view.public_field(name), value)
        screen.values[name] = cleaned
        change = {"name": name, "value": cleaned}
        self.hub.publish(f"client:{key}", {"type": "set_field", **change})
        self.hub.publish(observe_channel(key), {"type": "observe_field", "session": key, **change})

    def operator_press(self, key: str, token: str, action: str) -> None:
        """The controlling operator pressed a button: the user's page submits it as its own."""
        screen = self._holder(key, token)
        if action not in screen.view.actions:
            raise LiveHelpError("bad_action", "That button is not on the current screen.")
        self.hub.publish(f"client:{key}", {"type": "press", "action": action})

    # ------------------------------------------------------------ interviewee pages
    def page_screen(self, key: str, view: ScreenView, values: object) -> None:
        """The user's page shows `view` (on socket open and after each screen change)."""
        self.observable(key)
        self.screens[key] = LiveScreen(view, view.clean_values(values))
        if self.watchers.get(key):
            self.hub.publish(observe_channel(key), self.snapshot(key))

    def page_field(self, key: str, name: str, value: object) -> None:
        """The user changed one field (each keystroke, choice)."""
        self.observable(key)
        screen = self.screens.get(key)
        if screen is None:
            raise LiveHelpError("no_screen", "Report the screen before its fields.")
        cleaned = clean_value(screen.view.public_field(name), value)
        screen.values[name] = cleaned
        if self.watchers.get(key):
            self.hub.publish(observe_channel(key), {"type": "observe_field", "session": key,
                                                    "name": name, "value": cleaned})

    def page_closed(self, key: str) -> None:
        """The client's last socket closed: its typed values are not kept."""
        if self.screens.pop(key, None) is not None and self.watchers.get(key):
            self.hub.publish(observe_channel(key), self.snapshot(key))

    # ------------------------------------------------------------ clean-up
    def _publish(self, key: str) -> None:
        client = self.model.find_client(key)
        if client is not None:
            self.model.publish_session(client.session_id)

    def _end(self, key: str, reason: str) -> None:
        """Every watcher of `key` stops (their sockets unsubscribe on `observe_end`)."""
        self.controllers.pop(key, None)
        if self.watchers.pop(key, None):
            self.hub.publish(observe_channel(key), {"type": "observe_end", "session": key,
                                                    "reason": reason})

    def client_forgotten(self, client: Client) -> None:
        self.screens.pop(client.key, None)
        self._end(client.key, "The session has ended.")

    def session_unlisted(self, session: LiveSession) -> None:
        for key in session.clients:
            self._end(key, "Live help was turned off for this session.")
