"""What needs an operator's answer, written once for every Monitor.

Per conversation (a *thread*): its last message and `answered_seq`, the seq up to
which the team has answered. An operator's message answers everything before it,
whoever among the operators wrote it; in a mode without operators (peer) every
message counts as answered, since no operator can reply. So the messages needing an
answer are exactly seqs `answered_seq + 1 .. last_seq`.

Per operator: `read[conversation]`, how far they have looked. What is unread for
one operator is `last_seq - max(answered_seq, read)`, worked out by their page from
the entry and their marks (docs/protocol.md, "Unread").

Threads learn from every stored message (chat.py) and, for a conversation this
process has not seen since it started, from the store's tail of it (`load`).
"""

from __future__ import annotations

from dataclasses import dataclass

from state.store.base import ChatMessage

# A Monitor entry shows the start of the last message, not all of it.
PREVIEW_CHARS = 140


@dataclass
class Thread:
    last_seq: int = 0
    answered_seq: int = 0
    last: dict | None = None  # the entry's `last_message`
    waiting_since: str | None = None  # time of the oldest unanswered message


def preview(message: ChatMessage) -> dict:
    text = message.text if len(message.text) <= PREVIEW_CHARS else (
        message.text[:PREVIEW_CHARS - 1].rstrip() + "…")
    name = message.sender_first_name or ("Operator" if message.sender_role == "operator" else "")
    return {"seq": message.seq, "role": message.sender_role, "name": name, "text": text,
            "time": message.time.isoformat()}


class Attention:
    """Threads by conversation and operators' read marks; nothing else changes them."""

    def __init__(self) -> None:
        self._threads: dict[str, Thread] = {}
        self._read: dict[str, dict[str, int]] = {}  # operator id -> conversation -> seq

    def known(self, conversation: str) -> bool:
        return conversation in self._threads

    def surely_empty(self, conversation: str) -> bool:
        """Known to have no message: nothing was said, so nothing kept about it (a
        handover, a rating) can be in the store. A page's first connect reads none."""
        return self.known(conversation) and self._threads[conversation].last_seq == 0

    def thread(self, conversation: str) -> Thread:
        return self._threads.get(conversation) or Thread()

    def stored(self, message: ChatMessage, operators_answer: bool) -> Thread:
        """A message was stored in `message.conversation`; `operators_answer`: operators
        take part in it (else it needs nobody's answer)."""
        thread = self._threads.setdefault(message.conversation, Thread())
        if message.seq <= thread.last_seq:
            return thread  # the tail loaded from the store already had it
        thread.last_seq = message.seq
        thread.last = preview(message)
        if message.sender_role == "operator" or not operators_answer:
            thread.answered_seq = message.seq
            thread.waiting_since = None
        elif thread.waiting_since is None:
            thread.waiting_since = thread.last["time"]
        return thread

    def load(self, conversation: str, last: ChatMessage | None, answered_seq: int,
             first_unanswered: ChatMessage | None) -> None:
        """What the store holds of a conversation not seen since this process started."""
        if conversation in self._threads:
            return  # a live message came while the store was read: it is newer
        thread = self._threads[conversation] = Thread()
        if last is not None:
            thread.last_seq, thread.last = last.seq, preview(last)
            thread.answered_seq = answered_seq
            if first_unanswered is not None:
                thread.waiting_since = first_unanswered.time.isoformat()

    def mark_read(self, operator_id: str, conversation: str, seq: int) -> int:
        """The operator has seen `conversation` up to `seq` (never beyond its last
        message); returns their mark, which only grows."""
        marks = self._read.setdefault(operator_id, {})
        seq = min(seq, self.thread(conversation).last_seq)
        marks[conversation] = max(marks.get(conversation, 0), seq)
        return marks[conversation]

    def read_marks(self, operator_id: str, conversations: set[str]) -> dict[str, int]:
        marks = self._read.get(operator_id, {})
        return {c: seq for c, seq in marks.items() if c in conversations}

    def forget(self, conversation: str) -> None:
        """The conversation is no longer listed anywhere."""
        self._threads.pop(conversation, None)
        for marks in self._read.values():
            marks.pop(conversation, None)

    def decorate(self, entry: dict) -> None:
        """The entry's attention fields, for its `conversation`."""
        thread = self.thread(entry["conversation"])
        entry.update(last_message=thread.last, last_seq=thread.last_seq,
                     answered_seq=thread.answered_seq,
                     unanswered=thread.last_seq - thread.answered_seq,
                     waiting_since=thread.waiting_since)
