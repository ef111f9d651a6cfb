"""Limits on wrong access codes: per caller number, and server-wide (every caller at once).

The rules and their numbers are written here once. What they count lives in a `Tally`:
this process's memory (`MemoryTally`, one process) or Redis (state/cluster/codes.py,
cluster mode), so that every process counts the same wrong codes and pauses together.
A check first *takes* a place in the counts (none is left: refused) and gives it back
when the code was right. Counting only after the check would let every process, and
every call in flight, pass on a count read before the others added theirs: an attacker
would multiply the budget by the calls they can place at once.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

# A caller number that types this many wrong codes within FAILURE_WINDOW_SECONDS
# is refused for CALLER_BLOCK_SECONDS: an honest caller mistypes a few times, a
# guesser needs thousands of tries (see CallerLimiter).
MAX_CALLER_FAILURES = 10
FAILURE_WINDOW_SECONDS = 3600.0
CALLER_BLOCK_SECONDS = 3600.0


class Tally(Protocol):
    """Where the limits count: named sliding windows of labelled entries, counters and
    marks, on the tally's own clock. Each method is atomic wherever the tally is shared.
    A tally that cannot be reached raises ConnectionError."""

    async def take(self, name: str, limit: int, window: float, label: str) -> object | None:
        """Add an entry to window `name` unless `limit` entries lie within the last
        `window` seconds: a ticket for `give_back`, or None."""

    async def give_back(self, ticket: object) -> None:
        """Remove the entry `take` added."""

    async def entries(self, name: str, window: float) -> list[tuple[float, str]]:
        """(when, label) of the entries of the last `window` seconds, oldest first."""

    async def count_up(self, name: str) -> int:
        """Add one to counter `name`; its new value."""

    async def mark(self, name: str, seconds: float) -> bool:
        """Mark `name` for `seconds` unless it is marked; True if this call marked it."""

    async def marked(self, name: str) -> bool: ...

    async def clear(self, name: str) -> None:
        """Empty window `name`."""

    def prune(self) -> None:
        """Forget what no longer counts (keeps memory bounded)."""


@dataclass(eq=False)  # a ticket is itself: two entries of one moment differ
class _Entry:
    when: float
    label: str


class MemoryTally:
    """The tally of one process: atomic because nothing in it awaits."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._windows: dict[str, tuple[float, deque[_Entry]]] = {}  # name -> (window, entries)
        self._counters: dict[str, int] = {}
        self._marks: dict[str, float] = {}  # name -> until

    def _window(self, name: str, window: float) -> deque[_Entry]:
        entries = self._windows.setdefault(name, (window, deque()))[1]
        horizon = self.clock() - window
        while entries and entries[0].when <= horizon:
            entries.popleft()
        return entries

    async def take(self, name: str, limit: int, window: float, label: str) -> object | None:
        entries = self._window(name, window)
        if len(entries) >= limit:
            return None
        entry = _Entry(self.clock(), label)
        entries.append(entry)
        return name, entry

    async def give_back(self, ticket: object) -> None:
        name, entry = ticket  # type: ignore[misc]
        entries = self._windows.get(name, (0.0, deque()))[1]
        if entry in entries:
            entries.remove(entry)

    async def entries(self, name: str, window: float) -> list[tuple[float, str]]:
        return [(entry.when, entry.label) for entry in self._window(name, window)]

    async def count_up(self, name: str) -> int:
        self._counters[name] = self._counters.get(name, 0) + 1
        return self._counters[name]

    async def mark(self, name: str, seconds: float) -> bool:
        if await self.marked(name):
            return False
        self._marks[name] = self.clock() + seconds
        return True

    async def marked(self, name: str) -> bool:
        until = self._marks.get(name)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del self._marks[name]
        return False

    async def clear(self, name: str) -> None:
        self._windows.pop(name, None)

    def prune(self) -> None:
        now = self.clock()
        for name, (window, _entries) in list(self._windows.items()):
            if not self._window(name, window):
                del self._windows[name]
        for name in [name for name, until in self._marks.items() if until <= now]:
            del self._marks[name]


class CallerLimiter:
    """Refuses a caller number that failed `max_failures` times within `window` seconds.

    Failures are counted in a sliding window; reaching the limit refuses the
    number for `block_seconds` and starts its count afresh.
    """

    def __init__(self, max_failures: int = MAX_CALLER_FAILURES,
                 window: float = FAILURE_WINDOW_SECONDS,
                 block_seconds: float = CALLER_BLOCK_SECONDS,
                 clock: Callable[[], float] = time.time, tally: Tally | None = None) -> None:
        self.max_failures = max_failures
        self.window = window
        self.block_seconds = block_seconds
        self.tally = tally or MemoryTally(clock)

    async def refused(self, caller: str) -> bool:
        """True while `caller` is serving its block."""
        return await self.tally.marked(f"caller refused:{caller}")

    async def take(self, caller: str) -> object | None:
        """A place for checking one code from `caller` (counted as a failure until given
        back), or None while the number is refused."""
        if await self.refused(caller):
            return None
        return await self.tally.take(f"caller failures:{caller}", self.max_failures,
                                     self.window, caller)

    async def give_back(self, ticket: object) -> None:
        """The code was right: it was no failure."""
        await self.tally.give_back(ticket)

    async def failed(self, caller: str) -> bool:
        """The code `caller` typed was wrong (its place stays taken); True if this
        failure got the number refused."""
        if await self.failures(caller) < self.max_failures:
            return False
        await self.tally.clear(f"caller failures:{caller}")
        await self.tally.mark(f"caller refused:{caller}", self.block_seconds)
        return True

    async def failures(self, caller: str) -> int:
        """Wrong codes from `caller` within the current window."""
        return len(await self.tally.entries(f"caller failures:{caller}", self.window))

    def prune(self) -> None:
        """Forget callers whose failures and blocks are all in the past."""
        self.tally.prune()


# ---------------------------------------------------------------- server-wide budget
#
# A caller number costs an attacker nothing, so the limits above do not bound how
# many codes can be tried: rotating `From` every 3 tries found a live code after
# 5,762 requests. The one quantity that bounds the chance of a hit is the number of
# codes the server checks per day, whoever types them. The arithmetic, for the case
# we must withstand (10 codes live all day, 4 digits):
#
#   p = live codes / code space = 10 / 10,000 = 1/1,000 per checked code.
#   P(a hit among g checks) = 1 - (1 - p)^g <= 1 %  <=>  g <= ln(0.99) / ln(0.999) = 10.05.
#
# So at most 10 codes may be checked per 24 hours. Here: code entry pauses, server-wide,
# while WRONG_CODE_BUDGET = 9 wrong codes lie within the last WRONG_CODE_WINDOW_SECONDS
# = 24 h. Any 24 hours then hold at most 9 wrong codes (a code is checked only while
# fewer than 9 lie in the window, so each 24-hour span ends with at most 9), and a
# guesser's first hit must come within their first 9 checks of any day:
#
#   P(day) <= 1 - (1 - 10/10,000)^9 = 0.896 %  (independent draws, see below).
#
# Every REISSUE_EVERY_WRONG_CODES = 3 wrong codes (one call's worth of tries), and when
# the budget is spent, every live code is re-issued: a fresh random code, the old one
# dead, the user's page told at once. No live code has then faced more than 2 wrong
# guesses, so sweeping distinct codes gains nothing and each check is a near
# independent draw: for a code drawn among >= 10,000 - 9 free values with <= 2 values
# ruled out, P(hit) <= 10 / 9,989 per check, and by the union bound
#
#   P(day) <= 9 * 10 / 9,989 = 0.901 %  (the bound without any independence assumption).
#
# 9 rather than 10: with 10 checks the exact figure is 0.9955 % but the union bound is
# 1.001 %, too close to call. The cost: honest callers who mistype share the budget,
# 9 wrong 4-digit codes per rolling 24 hours server-wide (about 90 calls a day if one
# caller in ten mistypes once); only a full 4-digit entry counts (a shorter entry cannot
# be a code). During an attack code entry stays paused (callers are told so) until the
# oldest wrong code is 24 hours old: an attacker can keep telephone entry closed, but
# cannot reach an operator. The web chat is not affected. With several processes
# (cluster mode) they all count in one tally, in Redis: these figures hold for the
# cluster as a whole, however many processes answer Twilio.
DAY_SECONDS = 24 * 3600.0
WRONG_CODE_BUDGET = 9
WRONG_CODE_WINDOW_SECONDS = DAY_SECONDS
REISSUE_EVERY_WRONG_CODES = 3
# The case the figures above are worked out for (the issue's: 10 codes live all day).
PLANNED_LIVE_CODES = 10
# The daily chance of a hit we accept against an attacker with unlimited numbers.
ACCEPTED_DAILY_HIT_CHANCE = 0.01


def checks_per_day(budget: int = WRONG_CODE_BUDGET,
                   window: float = WRONG_CODE_WINDOW_SECONDS) -> int:
    """The most codes a guesser can have checked in any 24 hours under `budget` per `window`."""
    return budget * math.ceil(DAY_SECONDS / window)


def daily_hit_chance(live_codes: int, code_space: int, checks: int,
                     reissue_every: int = REISSUE_EVERY_WRONG_CODES) -> float:
    """A bound on P(at least one of `checks` random guesses hits one of `live_codes`):
    the union bound over checks, each code uniform over the free values less the
    `reissue_every - 1` guesses it can have faced since it was drawn."""
    free = code_space - (live_codes - 1) - (reissue_every - 1)
    return min(1.0, checks * live_codes / free)


@dataclass(frozen=True)
class BudgetStep:
    """What one wrong code did to the server-wide budget."""

    reissue: bool  # re-issue every live code now
    paused: bool  # the budget is spent: code entry pauses
    report: str | None = None  # words for the audit log when the pause starts (once per window)


WRONG_CODES = "wrong codes"  # the tally's window of wrong codes, every caller together
WRONG_CODES_EVER = "wrong codes ever"  # its counter: every `reissue_every`-th re-issues
PAUSE_REPORTED = "pause reported"  # its mark: the pause of this window was reported


class WrongCodeBudget:
    """Server-wide wrong codes in a sliding window: entry pauses while `budget` lie in it.

    Counts every caller together (see the arithmetic above). Also says when every live
    code must be re-issued: after each `reissue_every`-th wrong code and when the budget
    is spent. The pause is reported at most once per window.
    """

    def __init__(self, budget: int = WRONG_CODE_BUDGET,
                 window: float = WRONG_CODE_WINDOW_SECONDS,
                 reissue_every: int = REISSUE_EVERY_WRONG_CODES,
                 clock: Callable[[], float] = time.time, tally: Tally | None = None) -> None:
        self.budget = budget
        self.window = window
        self.reissue_every = reissue_every
        self.tally = tally or MemoryTally(clock)

    async def paused(self) -> bool:
        """True while the budget is spent: no code may be checked, right or wrong."""
        return await self.spent() >= self.budget

    async def spent(self) -> int:
        """Wrong codes, from every caller, within the window (and checks under way)."""
        return len(await self.tally.entries(WRONG_CODES, self.window))

    async def take(self, caller: str) -> object | None:
        """A place for checking one code of full length (spent until given back), or
        None while entry is paused."""
        return await self.tally.take(WRONG_CODES, self.budget, self.window, caller)

    async def give_back(self, ticket: object) -> None:
        """The code was right: a right code costs nothing."""
        await self.tally.give_back(ticket)

    async def wrong(self) -> BudgetStep:
        """The code checked in a place taken was wrong (the place stays spent): what follows."""
        count = await self.tally.count_up(WRONG_CODES_EVER)
        wrong = await self.tally.entries(WRONG_CODES, self.window)
        paused = len(wrong) >= self.budget
        report = None
        if paused and await self.tally.mark(PAUSE_REPORTED, self.window):
            numbers = len({caller for _when, caller in wrong})
            until = datetime.fromtimestamp(wrong[0][0] + self.window, UTC)
            report = (f"{len(wrong)} wrong access codes within "
                      f"{self.window / 3600:g} hours from {numbers} caller "
                      f"number{'' if numbers == 1 else 's'}: "
                      f"code entry paused until {until:%Y-%m-%d %H:%M} UTC")
        return BudgetStep(reissue=paused or count % self.reissue_every == 0, paused=paused,
                          report=report)
