"""The reports page's totals, for both stores: a date range's help conversations
counted per day (from their summaries, which history.py keeps as chat is stored), the
waits until the first operator reply with their medians and 90th percentiles, who took
part, messages left and handled, ratings. Never the messages themselves.

A busy quarter holds some 50,000 conversations: each store reads a few values of each
and counts them in one pass, off the event loop (SQLite: on the store's thread, in
the same call as the reads; MongoDB: in a worker thread once the documents are in).
Both count through the same `Tally`, so both give the same totals;
state/livehelp/report_figures.py turns them into the page's charts.

A help conversation is one interviewee's with the operators: its id differs from its
session's. A shared one (the peer modes) has its session's id and is not reported.
"""

from __future__ import annotations

import asyncio
import sqlite3
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import chain
from typing import Any, NamedTuple

from state.store.base import epoch_ms
from state.store.history import after_catch_up
from state.store.sqlite_rows import to_text

SCORES = range(1, 6)


class ReportDays:
    """The days of a report, `first` to `last`, each from midnight to midnight in
    `zone`; which day a moment falls on is a bisection of the midnights."""

    def __init__(self, first: date, last: date, zone: tzinfo) -> None:
        self.first, self.last, self.zone = first, last, zone
        self.dates = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        self.midnights = [datetime.combine(day, time(), tzinfo=zone)
                          for day in [*self.dates, last + timedelta(days=1)]]

    @property
    def since(self) -> datetime:
        return self.midnights[0]

    @property
    def until(self) -> datetime:
        return self.midnights[-1]

    def placer(self) -> Callable[[int | None], int | None]:
        """day(moment in epoch ms): its day's index; None for none, or outside the days."""
        days = len(self.dates)
        starts = [epoch_ms(midnight) for midnight in self.midnights]

        def day(moment: int | None) -> int | None:
            if moment is None:
                return None
            found = bisect_right(starts, moment) - 1
            return found if 0 <= found < days else None
        return day


class WaitFigures(NamedTuple):
    """Waits (ms) until the first operator reply: how many, the median (the mean of the
    two middle ones for an even count) and the 90th percentile (the nearest rank: the
    smallest wait that at least 9 in 10 waited no longer than). None for no wait."""

    count: int
    median: float | None
    high: int | None

    @classmethod
    def of(cls, waits: list[int]) -> WaitFigures:
        if not waits:
            return cls(0, None, None)
        ordered = sorted(waits)
        count, middle = len(ordered), len(ordered) // 2
        median = ordered[middle] if count % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        return cls(count, median, ordered[(9 * count + 9) // 10 - 1])  # rank ceil(0.9 n)


@dataclass
class ReportTotals:
    """What a report counts, per day of its ReportDays where a list."""

    conversations: list[int]
    wrote: list[int]  # conversations whose user wrote
    unanswered: list[int]  # of those, the ones no operator answered
    waits: list[WaitFigures]
    all_waits: WaitFigures
    first_replies: dict[str, WaitFigures]  # per operator (email, lower case) replying first
    taking_part: dict[str, int]  # conversations each operator wrote in
    left: list[int]  # messages left that day
    handled: list[int]  # messages left handled that day
    left_waiting: int  # of those left in the range, the ones not handled yet
    scores: list[list[int]]  # per day, how many ratings gave 1, 2, 3, 4, 5


@dataclass
class Tally:
    """Counts the facts of one report as they are read, in one pass."""

    days: int
    conversations: list[int] = field(init=False)
    wrote: list[int] = field(init=False)
    unanswered: list[int] = field(init=False)
    waits: list[list[int]] = field(init=False)
    first_replies: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    taking_part: Counter[str] = field(default_factory=Counter)
    left: list[int] = field(init=False)
    handled: list[int] = field(init=False)
    left_waiting: int = 0
    scores: list[list[int]] = field(init=False)

    def __post_init__(self) -> None:
        for name in ("conversations", "wrote", "unanswered", "left", "handled"):
            setattr(self, name, [0] * self.days)
        self.waits = [[] for _ in range(self.days)]
        self.scores = [[0] * len(SCORES) for _ in range(self.days)]

    def add_conversations(self, rows: Iterable[tuple], day: Callable[[Any], int | None]) -> None:
        """Rows of (began, wait in ms or None, the operator of the first reply, the
        operators who wrote (space-delimited), the user wrote, an operator wrote); `day`
        places `began`. The one loop a report spends its time in: locals, no calls but
        `day`, and the operators counted once at the end."""
        conversations, wrote_on, unanswered = self.conversations, self.wrote, self.unanswered
        waits, first_replies = self.waits, self.first_replies
        taking_part: list[str] = []
        for began, wait, first_operator, operators, wrote, answered in rows:
            index = day(began)
            if index is None:
                continue
            conversations[index] += 1
            if wrote:
                wrote_on[index] += 1
                if not answered:
                    unanswered[index] += 1
            if wait is not None:
                waits[index].append(wait)
                if first_operator:
                    first_replies[first_operator].append(wait)
            if operators:
                taking_part.append(operators)
        self.taking_part.update(chain.from_iterable(map(str.split, taking_part)))

    def left_message(self, created: int | None, handled: int | None, was_handled: bool) -> None:
        """The days it was left and handled (None: outside the range), and whether it
        was handled at all (perhaps after the range)."""
        if created is not None:
            self.left[created] += 1
            self.left_waiting += not was_handled
        if handled is not None:
            self.handled[handled] += 1

    def rating(self, day: int | None, score: int) -> None:
        if day is not None and score in SCORES:
            self.scores[day][score - 1] += 1

    def totals(self) -> ReportTotals:
        every = [wait for day in self.waits for wait in day]
        return ReportTotals(
            self.conversations, self.wrote, self.unanswered,
            [WaitFigures.of(day) for day in self.waits], WaitFigures.of(every),
            {email: WaitFigures.of(waits) for email, waits in self.first_replies.items()},
            dict(self.taking_part), self.left, self.handled, self.left_waiting, self.scores)


# -- SQLite ----------------------------------------------------------------------------

def _millis(column: str) -> str:
    """SQL for a time column (UTC ISO text) as epoch milliseconds (NULL stays NULL).
    julianday() keeps about 40 microseconds of precision today: rounding gives the exact
    millisecond."""
    return f"CAST(ROUND((julianday({column}) - 2440587.5) * 86400000) AS INTEGER)"


# Read whole (no index on first_time): the index on last_time would cost a look-up of
# the summary per conversation, more than the scan until the history is some twenty
# times longer than the range (bench/history_search.py measures a 90-day report).
# Times come as epoch ms: ints are read into Python faster than their ISO text.
_CONVERSATIONS = f"""
SELECT {_millis('first_time')}, MAX({_millis('first_reply_time')} - {_millis('first_user_time')}, 0),
       first_reply_operator, operators, first_user_time IS NOT NULL,
       first_reply_time IS NOT NULL
FROM conversations
WHERE first_time >= :since AND first_time < :until AND conversation <> session_id
"""
_LEFT = f"""
SELECT {_millis('created')}, {_millis('handled_at')} FROM left_messages
WHERE (created >= :since AND created < :until) OR (handled_at >= :since AND handled_at < :until)
"""
_RATINGS = f"""
SELECT {_millis('created')}, score FROM ratings WHERE created >= :since AND created < :until
"""


class SQLiteReports:
    _run: Callable[..., Any]

    async def report_totals(self, days: ReportDays) -> ReportTotals:
        bounds = {"since": to_text(days.since), "until": to_text(days.until)}
        day = days.placer()

        def count(connection: sqlite3.Connection) -> ReportTotals:
            tally = Tally(len(days.dates))
            tally.add_conversations(connection.execute(_CONVERSATIONS, bounds).fetchall(), day)
            for created, handled in connection.execute(_LEFT, bounds):
                tally.left_message(day(created), day(handled), handled is not None)
            for created, score in connection.execute(_RATINGS, bounds):
                tally.rating(day(created), score)
            return tally.totals()

        return await self._run(after_catch_up(count))

    async def has_rating(self, conversation: str) -> bool:
        """Whether the conversation was rated (the satisfaction rule asks, once per page)."""
        return await self._run(lambda c: c.execute(
            "SELECT 1 FROM ratings WHERE conversation = ?", (conversation,)).fetchone()) is not None


# -- MongoDB ---------------------------------------------------------------------------

def _conversation_row(summary: dict) -> tuple:
    """A summary as SQLite's query gives it (see Tally.add_conversations)."""
    user, reply = summary.get("first_user_time"), summary.get("first_reply_time")
    return (summary["first_time"], None if user is None or reply is None else max(reply - user, 0),
            summary.get("first_reply_operator"), " ".join(summary.get("operators") or ()),
            user is not None, reply is not None)


def _count_documents(days: ReportDays, summaries: list[dict], left: list[dict],
                     ratings: list[dict]) -> ReportTotals:
    day = days.placer()
    tally = Tally(len(days.dates))
    tally.add_conversations(map(_conversation_row, (
        summary for summary in summaries if summary["_id"] != summary["session_id"])), day)
    for message in left:
        handled = message.get("handled_at")
        tally.left_message(day(message["created"]), day(handled), handled is not None)
    for rating in ratings:
        tally.rating(day(rating["created"]), rating["score"])
    return tally.totals()


class MongoReports:
    _db: Any
    _guard: Callable[[], AbstractContextManager[None]]

    async def report_totals(self, days: ReportDays) -> ReportTotals:
        span = {"$gte": epoch_ms(days.since), "$lt": epoch_ms(days.until)}
        fields = {"session_id": 1, "first_time": 1, "first_user_time": 1,
                  "first_reply_time": 1, "first_reply_operator": 1, "operators": 1}
        with self._guard():
            summaries = await self._db.conversations.find(
                {"first_time": span}, fields).to_list(None)
            left = await self._db.left_messages.find(
                {"$or": [{"created": span}, {"handled_at": span}]},
                {"created": 1, "handled_at": 1}).to_list(None)
            ratings = await self._db.ratings.find(
                {"created": span}, {"created": 1, "score": 1}).to_list(None)
        return await asyncio.to_thread(_count_documents, days, summaries, left, ratings)

    async def has_rating(self, conversation: str) -> bool:
        # A rating's _id is its conversation (desk.py).
        with self._guard():
            return await self._db.ratings.find_one({"_id": conversation}, {"_id": 1}) is not None
