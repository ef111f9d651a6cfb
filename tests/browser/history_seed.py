"""Stored chat history for the browser tests of the history page and its axe check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from state.livehelp.rules import client_key
from state.store.base import ChatMessage, SessionRecord, new_id

ADA = ("user", "ada@example.org", "Ada", None)
OLGA = ("operator", "olga@example.com", "Olga", "Krause")
ANONYMOUS = ("user", None, None, None)


async def seed(live_server) -> str:
    """A dozen conversations, an hour apart, the newest (Ada's, with Olga) holding
    "deposit" twice and a <script>; returns that one's conversation id."""
    store = live_server.services.store
    now = datetime.now(UTC).replace(microsecond=0)
    newest = ""
    for index in range(12):
        record = SessionRecord(id=new_id(), interview="fruit" if index % 2 else "chat_example")
        await store.save_session(record)
        conversation = client_key(record.id, f"b:{new_id()}")
        newest = newest or conversation
        said = ([(ADA, "Hi, I am Ada"),
                 (OLGA, "<script>alert('x')</script> my landlord kept the deposit"),
                 (ADA, "Which deposit? The whole deposit?")] if index == 0
                else [(ANONYMOUS, f"question number {index}"), (OLGA, "answer")])
        for minute, ((role, email, first, last), text) in enumerate(said):
            await store.add_message(ChatMessage(
                conversation=conversation, session_id=record.id,
                sender_key="u:olga" if role == "operator" else conversation.split("|")[1],
                sender_role=role, text=text, client_id=new_id(), sender_email=email,
                sender_first_name=first, sender_last_name=last,
                time=now - timedelta(hours=index) + timedelta(minutes=minute)))
    return newest
