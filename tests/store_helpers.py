"""Records the store tests build: a user and a chat message with every field set."""

from __future__ import annotations

from datetime import UTC, datetime

from state.store.base import ChatMessage, User, new_id

MOMENT = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


def a_user(email: str = "ada@example.org", created: datetime = MOMENT) -> User:
    return User(id=new_id(), email=email, password_hash="scrypt$hash", first_name="Ada",
                last_name="Lovelace", privileges=["advocate"], created=created)


def a_message(conversation: str = "conv-1", client_id: str | None = None,
              text: str = "hello") -> ChatMessage:
    return ChatMessage(conversation=conversation, session_id="session-1", sender_key="u:ada",
                       sender_role="user", text=text, client_id=client_id or new_id(),
                       sender_email="ada@example.org", sender_first_name="Ada",
                       sender_last_name="Lovelace", time=MOMENT)
