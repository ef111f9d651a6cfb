"""Limits on wrong access codes: per caller number, and server-wide (every caller at once)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

# A caller number that types this many wrong codes within FAILURE_WINDOW_SECONDS
# is refused for CALLER_BLOCK_SECONDS: an honest caller mistypes a few times, a
# guesser needs thousands of tries (see CallerLimiter).
MAX_CALLER_FAILURES = 10
FAILURE_WINDOW_SECONDS = 3600.0
CALLER_BLOCK_SECONDS = 3600.0


class CallerLimiter:
    """Refuses a caller number that failed `max_failures` times within `window` seconds.

    Failures are counted in a sliding window; reaching the limit refuses the
    number for `block_seconds` and starts its count afresh.
    """

    def __init__(self, max_failures: int = MAX_CALLER_FAILURES,
                 window: float = FAILURE_WINDOW_SECONDS,
                 block_seconds: float = CALLER_BLOCK_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_failures = max_failures
        self.window = window
        self.block_seconds = block_seconds
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._refused_until: dict[str, float] = {}

    def refused(self, caller: str) -> bool:
        """True while `caller` is serving its block."""
        until = self._refused_until.get(caller)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del self._refused_until[caller]
        return False

    def record_failure(self, caller: str) -> bool:
        """Count one wrong code from `caller`; True if this failure got it refused."""
        now = self.clock()
        failures = self._failures.setdefault(caller, deque())
        failures.append(now)
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(failures) < self.max_failures:
            return False
        del self._failures[caller]
        self._refused_until[caller] = now + self.block_seconds
        return True

    def failures(self, caller: str) -> int:
        """Wrong codes from `caller` within the current window."""
        now = self.clock()
        return sum(1 for t in self._failures.get(caller, ()) if t > now - self.window)

    def prune(self) -> None:
        """Forget callers whose failures and blocks are all in the past (keeps memory bounded)."""
        now = self.clock()
        for caller in [c for c, until in self._refused_until.items() if until <= now]:
            del self._refused_until[caller]
        for caller, failures in list(self._failures.items()):
            if not failures or failures[-1] <= now - self.window:
                del self._failures[caller]


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
# cannot reach an operator. The web chat is not affected.
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


class WrongCodeBudget:
    """Server-wide wrong codes in a sliding window: entry pauses while `budget` lie in it.

    Counts every caller together (see the arithmetic above). Also says when every live
    code must be re-issued: after each `reissue_every` wrong codes and when the budget
    is spent. The pause is reported at most once per window.
    """

    def __init__(self, budget: int = WRONG_CODE_BUDGET,
                 window: float = WRONG_CODE_WINDOW_SECONDS,
                 reissue_every: int = REISSUE_EVERY_WRONG_CODES,
                 clock: Callable[[], float] = time.time) -> None:
        self.budget = budget
        self.window = window
        self.reissue_every = reissue_every
        self.clock = clock
        self._wrong: deque[tuple[float, str]] = deque()  # (when, caller), oldest first
        self._since_reissue = 0
        self._reported_at: float | None = None

    def paused(self) -> bool:
        """True while the budget is spent: no code may be checked, right or wrong."""
        return self.spent() >= self.budget

    def spent(self) -> int:
        """Wrong codes, from every caller, within the window."""
        self.prune()
        return len(self._wrong)

    def paused_until(self) -> float | None:
        """When code entry opens again (the oldest wrong code leaves the window), or None."""
        return self._wrong[0][0] + self.window if self.paused() else None

    def record(self, caller: str) -> BudgetStep:
        """Count one wrong code (checked while not paused) and say what follows from it."""
        now = self.clock()
        self.prune()
        self._wrong.append((now, caller))
        self._since_reissue += 1
        paused = len(self._wrong) >= self.budget
        reissue = paused or self._since_reissue >= self.reissue_every
        if reissue:
            self._since_reissue = 0
        report = None
        if paused and (self._reported_at is None or now - self._reported_at >= self.window):
            self._reported_at = now
            numbers = len({number for _when, number in self._wrong})
            until = datetime.fromtimestamp(self.paused_until() or now, UTC)
            report = (f"{len(self._wrong)} wrong access codes within "
                      f"{self.window / 3600:g} hours from {numbers} caller "
                      f"number{'' if numbers == 1 else 's'}: "
                      f"code entry paused until {until:%Y-%m-%d %H:%M} UTC")
        return BudgetStep(reissue=reissue, paused=paused, report=report)

    def prune(self) -> None:
        """Forget wrong codes older than the window."""
        horizon = self.clock() - self.window
        while self._wrong and self._wrong[0][0] <= horizon:
            self._wrong.popleft()
