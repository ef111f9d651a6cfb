"""Refusing caller numbers that keep typing wrong access codes."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

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
