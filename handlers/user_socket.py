"""The interviewee's WebSocket: chat state, activation, chat messages, typing."""

from __future__ import annotations

import re
from typing import Any

import tornado.web

from handlers import messages
from handlers.base import BROWSER_COOKIE
from handlers.cobrowse_socket import UserCoBrowseMixin
from handlers.socket_base import LiveSocket
from handlers.socket_limits import limits_of, retry_after
from state.livehelp.errors import LiveHelpError
from state.livehelp.records import Client
from state.livehelp.rules import LiveHelpSettings
from state.phone.numbers import validate_e164


class UserSocket(UserCoBrowseMixin, LiveSocket):
    protocol = messages.Protocol(messages.USER_MESSAGES)
    client: Client | None = None

    async def get(self, session_id: str, *args: Any, **kwargs: Any) -> None:
        """Refuse before the upgrade unless this browser holds the session and live help is on."""
        if not self.may_use_session(session_id):
            raise tornado.web.HTTPError(403, "This browser has no access to that session.")
        record = await self.store.get_session(session_id)
        if record is None or not LiveHelpSettings.of(record.live_help).listed:
            raise tornado.web.HTTPError(403, "Live help is off for this session.")
        if self.current_user is None and self.get_signed_cookie(BROWSER_COOKIE) is None:
            # A socket cannot set cookies; the interview page gives the browser its id.
            raise tornado.web.HTTPError(403, "Open the interview page before its live help.")
        self.record = record
        await super().get(session_id, *args, **kwargs)

    async def open(self, session_id: str) -> None:
        interview = self.interviews.get(self.record.interview)
        title = interview.title if interview else self.record.interview
        settings = LiveHelpSettings.of(self.record.live_help)
        # The Monitor's entry shows the conversation's last message from the start.
        await self.livehelp.chat.load_thread(
            settings.conversation(session_id, self.participant_key), settings.operators_chat)
        if self.ws_connection is None or self.ws_connection.is_closing():
            return  # gone while the store answered: nothing to connect, nothing to undo
        self.client = self.livehelp.client_connected(
            self.record, title, self.participant_key, self.current_user)
        await self.livehelp.handover.restore(self.client)  # before its hello is read
        self.subscribe(f"client:{self.client.key}")
        self.subscribe(f"session:{session_id}")
        self.send(self.livehelp.user_state(self.client))
        # Whether this conversation was rated before (no chat of it can end before this).
        await self.satisfaction.restore(self.client)

    @property
    def satisfaction(self):  # state.livehelp.satisfaction.Satisfaction
        return self.settings["satisfaction"]

    async def on_message(self, raw: str | bytes) -> None:
        if self.client is not None:
            self.livehelp.client_seen(self.client.key)
        await super().on_message(raw)

    @retry_after
    async def on_hello(self, message: messages.UserHello) -> None:
        limits_of(self).check_replay()
        self.livehelp.client_screen(self.client.key, message.screen)
        # A chat an operator closed while this page was away stays closed.
        if message.active and not self.client.chat_active and not self.client.closed_by:
            try:
                self.livehelp.activate(self.client.key)
            except LiveHelpError:
                pass  # the page shows the state it gets; nothing to reactivate into
        self.send(self.livehelp.user_state(self.client))
        conversation = self.livehelp.conversation_of(self.client)
        page = await self.livehelp.chat.history(conversation, message.last_seq or 0)
        for event in page.messages():
            self.send(event)

    @retry_after
    async def on_history(self, message: messages.History) -> None:
        """The next page of this browser's own conversation (after `history_more`)."""
        limits_of(self).check_replay()
        if message.conversation != self.livehelp.conversation_of(self.client):
            raise LiveHelpError("unknown_conversation", "That is not this page's conversation.")
        page = await self.livehelp.chat.history(message.conversation, message.after or 0)
        for event in page.messages():
            self.send(event)

    async def on_activate(self, message: messages.Activate) -> None:
        self.livehelp.activate(self.client.key)

    async def on_deactivate(self, message: messages.Deactivate) -> None:
        self.satisfaction.user_turns_off(self.client.key)  # a chat that ends now may be rated
        self.livehelp.deactivate(self.client.key)

    async def on_rate(self, message: messages.Rate) -> None:
        await self.satisfaction.rate(self.client.key, message.score, message.comment)

    @retry_after
    async def on_chat(self, message: messages.UserChat) -> None:
        stored = await self.livehelp.chat.user_chat(self.client.key, message.client_id,
                                                    message.text)
        self.send_ack(message.client_id, stored)

    @retry_after
    async def on_leave_message(self, message: messages.LeaveMessage) -> None:
        contact = checked_contact(message.contact)
        stored = await self.livehelp.left.leave(self.client.key, message.client_id,
                                                message.text, contact)
        self.send_ack(message.client_id, stored)

    async def on_typing(self, message: messages.UserTyping) -> None:
        if not limits_of(self).frames.typing(self.client.key, message.typing):
            return  # over the frame limit: dropped (docs/protocol.md, `typing`)
        name = self.current_user.first_name if self.current_user else ""
        self.livehelp.chat.typing(self.client.key, name or "User", message.typing,
                                  from_operator=False)

    def on_close(self) -> None:
        super().on_close()
        if self.client is not None:
            self.livehelp.client_disconnected(self.client.key)
            self.cobrowse_closed()


# Enough to catch a typing slip; whether the address receives mail is the operator's to find.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LONGEST_CONTACT = 254  # the longest email address


def checked_contact(contact: str) -> str:
    """"" (none), an email address, or an E.164 phone number; refuses anything else."""
    contact = contact.strip()
    if len(contact) > LONGEST_CONTACT:
        raise LiveHelpError("bad_contact", "How to reach you: this is too long for an "
                            "email address or a phone number.")
    if not contact or EMAIL.fullmatch(contact):
        return contact
    try:
        return validate_e164(contact)
    except ValueError as error:
        words = str(error) if contact.startswith("+") else (
            "is neither an email address nor a phone number starting with + and the "
            "country code")
        raise LiveHelpError("bad_contact", f"How to reach you: this {words}.") from None


routes = [(r"ws/user/([A-Za-z0-9_-]{8,64})", UserSocket)]
