"""What one sender or one socket may cost: token buckets, the size quota of a
conversation, and how typing and field frames over their limit are coalesced.

No Tornado here and no clock of its own: every class is given one (`time.monotonic`
in the server, `tests/clock.py`'s FakeClock in tests). A check is a few float
operations, so the chat path stays cheap (bench/chat.py).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from state.livehelp.errors import LiveHelpError

Clock = Callable[[], float]

# `hello` and `history` replay stored chat (a store read and up to a page of messages
# per conversation). A Monitor that (re)connects sends one `hello`, then asks for a few
# pages or new entries: a burst of 10, then 5 a second, is more than a page needs and
# keeps a socket that repeats `hello` from making the server queue history over and over.
REPLAY_BURST = 10
REPLAYS_PER_SECOND = 5.0
# Typing, screen and field frames of one socket. A person typing fast makes about 10
# keystrokes a second, each a `field` frame (and a `typing` frame every few seconds):
# a burst of 40, then 20 a second, never holds a person back, only a script.
FRAME_BURST = 40
FRAMES_PER_SECOND = 20.0
# Field values held back while a socket is over its frame limit, the latest per field.
# A screen has tens of fields; beyond this the frame is refused rather than held, so
# made-up field names cannot grow the memory held for one socket.
MAX_HELD_FIELDS = 100
# Conversations whose stored size is kept in memory. Beyond this the one used least
# recently is forgotten; when it chats again its size is read from the store once more
# (correct, one query). 10,000 conversations cost about 2 MB (measured).
QUOTA_CONVERSATIONS = 10_000
# Sender buckets kept before the full ones (the same as no bucket) are swept out;
# the next sweep waits until the dict has doubled, so sweeping costs O(1) a message.
SWEEP_SENDERS = 1024


class ChatLimitSettings(Protocol):
    """What the chat limits read of the config (`limits:` in the YAML file)."""

    history_page_messages: int
    chat_burst: int
    chat_per_minute: int
    conversation_characters: int


class RateLimited(LiveHelpError):
    """Refused for now: the same request is accepted `retry_after` seconds from now."""

    def __init__(self, what: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        unit = "second" if seconds == 1 else "seconds"
        super().__init__("rate_limited", f"{what}; try again in {seconds} {unit}.")
        # Tenths of a second, rounded up: retrying then is never too early.
        # (rounded first to microseconds, so float noise does not add a tenth).
        self.retry_after = max(0.1, math.ceil(round(retry_after * 10, 5)) / 10)


class TokenBucket:
    """`burst` requests at once, then `per_second`: each request takes a token, and
    tokens come back at `per_second` up to `burst`."""

    __slots__ = ("burst", "clock", "per_second", "stamp", "tokens")

    def __init__(self, burst: float, per_second: float, clock: Clock) -> None:
        self.burst, self.per_second, self.clock = float(burst), per_second, clock
        self.tokens, self.stamp = float(burst), clock()

    def _refill(self) -> float:
        now = self.clock()
        tokens = self.tokens + (now - self.stamp) * self.per_second
        self.tokens, self.stamp = min(tokens, self.burst), now
        return self.tokens

    def take(self) -> float:
        """Take a token: 0.0 when there was one, otherwise the seconds until there is
        one (and nothing is taken)."""
        tokens = self._refill()
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return 0.0
        return (1.0 - tokens) / self.per_second

    def wait(self) -> float:
        """Seconds until a token is there (0.0: now), taking nothing."""
        return max(0.0, (1.0 - self._refill()) / self.per_second)

    def is_full(self) -> bool:
        """Full again: the same as a bucket never used."""
        return self._refill() >= self.burst


class SenderBuckets:
    """One token bucket per sender, made on the sender's first request; full buckets
    are swept out now and then, so a server running for months keeps only the
    senders of the last minutes."""

    def __init__(self, burst: float, per_second: float, clock: Clock) -> None:
        self.burst, self.per_second, self.clock = burst, per_second, clock
        self._buckets: dict[str, TokenBucket] = {}
        self._sweep_at = SWEEP_SENDERS

    def take(self, sender: str) -> float:
        """As TokenBucket.take, for `sender`'s bucket."""
        bucket = self._buckets.get(sender)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:
                self._sweep()
            bucket = self._buckets[sender] = TokenBucket(self.burst, self.per_second, self.clock)
        return bucket.take()

    def _sweep(self) -> None:
        self._buckets = {sender: bucket for sender, bucket in self._buckets.items()
                         if not bucket.is_full()}
        self._sweep_at = max(SWEEP_SENDERS, 2 * len(self._buckets))

    def __len__(self) -> int:
        return len(self._buckets)


class ConversationQuota:
    """The characters of all stored text of each conversation, at most `max_characters`.

    The store is the truth: a conversation's total is read from it (one query) the
    first time this process sees the conversation, then kept in memory and counted
    up as messages are stored, so the quota holds across restarts without a query
    per message. A message reserves its characters before it is stored, so that
    messages stored at the same time cannot overshoot; `release` gives them back
    when it was not stored (a resend, a store failure).
    """

    def __init__(self, max_characters: int,
                 stored_characters: Callable[[str], Awaitable[int]]) -> None:
        self.max_characters = max_characters
        self._stored_characters = stored_characters
        self._totals: OrderedDict[str, int] = OrderedDict()

    async def reserve(self, conversation: str, characters: int) -> None:
        """Count `characters` more for `conversation`; refuses with `conversation_full`
        when that would exceed the quota (and counts nothing)."""
        totals = self._totals
        total = totals.get(conversation)
        if total is None:
            counted = await self._stored_characters(conversation)
            # Another message of the conversation may have been counted meanwhile.
            total = totals.setdefault(conversation, counted)
            if len(totals) > QUOTA_CONVERSATIONS:
                totals.popitem(last=False)
        else:
            totals.move_to_end(conversation)
        if total + characters > self.max_characters:
            raise LiveHelpError(
                "conversation_full",
                "This conversation is full: it holds as much text as one conversation may, "
                "so no more messages can be sent in it.")
        totals[conversation] = total + characters

    def release(self, conversation: str, characters: int) -> None:
        """Give back what `reserve` counted for a message that was not stored."""
        if conversation in self._totals:
            self._totals[conversation] -= characters

    def total(self, conversation: str) -> int | None:
        """The characters counted for `conversation`, None when not in memory."""
        return self._totals.get(conversation)


class ChatLimits:
    """The chat rules' limits: a rate per sender (`chat_burst`, then `chat_per_minute`)
    and a size per conversation (`conversation_characters`)."""

    def __init__(self, settings: ChatLimitSettings,
                 stored_characters: Callable[[str], Awaitable[int]], clock: Clock) -> None:
        self.senders = SenderBuckets(settings.chat_burst, settings.chat_per_minute / 60.0, clock)
        self.quota = ConversationQuota(settings.conversation_characters, stored_characters)

    def check_rate(self, sender: str) -> None:
        """Count one message of `sender` (a participant key or "u:<user id>": one
        person across their tabs); refuses with `rate_limited` over the limit."""
        wait = self.senders.take(sender)
        if wait:
            raise RateLimited("You are sending messages too fast", wait)


class FrameLimits:
    """One socket's typing, screen and field frames, against one token bucket.

    Over the limit: a `typing` frame is dropped (only the latest state matters and
    pages repeat "typing" every few seconds), except the "stopped typing" that ends
    a "typing" that got through, so no indicator is left on; a `field` value is
    held, the latest per field, until the bucket allows it (`due_fields`); a `screen`
    frame is refused with `rate_limited` (`check_screen`).
    """

    def __init__(self, clock: Clock) -> None:
        self.bucket = TokenBucket(FRAME_BURST, FRAMES_PER_SECOND, clock)
        self._typing_shown: set[str] = set()  # targets whose last delivered state was True
        self._held: dict[tuple[str, str], object] = {}  # (target, field name) -> value

    def typing(self, target: str, is_typing: bool) -> bool:
        """Whether to deliver this typing state for `target` (an entry key)."""
        ends_shown = not is_typing and target in self._typing_shown
        if self.bucket.take() and not ends_shown:
            return False
        if is_typing:
            self._typing_shown.add(target)
        else:
            self._typing_shown.discard(target)
        return True

    def check_screen(self) -> None:
        """Count one `screen` frame; refuses with `rate_limited` over the limit."""
        wait = self.bucket.take()
        if wait:
            raise RateLimited("Too many screen reports", wait)

    def field(self, target: str, name: str, value: object) -> float:
        """0.0: deliver this value now. Otherwise it is held (replacing a held value of
        the same field): call `due_fields` in that many seconds. Refuses with
        `rate_limited` when too many fields are held already."""
        key = (target, name)
        held = self._held
        if not held:
            wait = self.bucket.take()
            if not wait:
                return 0.0
        else:  # values held earlier go first: a later one must not be overwritten by them
            wait = self.bucket.wait()
        if key not in held and len(held) >= MAX_HELD_FIELDS:
            raise RateLimited("Too many field changes", wait)
        held[key] = value
        return max(wait, 1e-3)

    def due_fields(self) -> tuple[list[tuple[str, str, object]], float]:
        """The held values the bucket allows now, oldest first, as (target, name, value),
        and the seconds until the next of the others may go (0.0: none held)."""
        ready: list[tuple[str, str, object]] = []
        held = self._held
        while held:
            wait = self.bucket.take()
            if wait:
                return ready, wait
            target, name = key = next(iter(held))
            ready.append((target, name, held.pop(key)))
        return ready, 0.0

    def drop_fields(self) -> None:
        """Forget the held values (a new screen report carries every value)."""
        self._held.clear()
