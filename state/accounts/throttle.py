"""Slowing down repeated failed sign-ins, per email and per client address.

In memory on purpose: livehelp is one process, and a restart forgetting the
counters only gives an attacker a handful more guesses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Five honest typos are common; more than that in a row looks like guessing.
FREE_FAILURES = 5
# The first lock-out lasts a second and doubles with each further failure...
BASE_DELAY_SECONDS = 1.0
# ...but never beyond five minutes, so a person locked out by someone else's
# guessing can still get in the same day.
MAX_DELAY_SECONDS = 300.0
# Counters nobody touched for this long are forgotten (the person gave up or got in).
FORGET_AFTER_SECONDS = 3600.0
# Upper bound on remembered keys so a flood of made-up emails cannot exhaust memory.
MAX_TRACKED_KEYS = 50_000


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Counts failed sign-ins per email and per client IP and says how long to wait.

    Usage: ask `retry_after(email, ip)` before checking a password; refuse when it
    is above zero. Then call `record_failure` or `record_success`.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 free_failures: int = FREE_FAILURES, base_delay: float = BASE_DELAY_SECONDS,
                 max_delay: float = MAX_DELAY_SECONDS) -> None:
        self._clock = clock
        self._free_failures = free_failures
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._failures: dict[str, _Failures] = {}

    @staticmethod
    def _keys(email: str, ip: str) -> tuple[str, str]:
        return f"email:{email.strip().lower()}", f"ip:{ip}"

    def _delay_for(self, count: int) -> float:
        """Lock-out after the count-th failure: 0 while free, then doubling up to the cap."""
        extra = count - self._free_failures
        if extra < 0:
            return 0.0
        # Cap the exponent too so huge counts do not build huge floats.
        return min(self._max_delay, self._base_delay * 2 ** min(extra, 32))

    def _wait(self, key: str, now: float) -> float:
        entry = self._failures.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.last + self._delay_for(entry.count) - now)

    def retry_after(self, email: str, ip: str) -> float:
        """Seconds before another attempt for this email or from this address is allowed."""
        now = self._clock()
        return max(self._wait(key, now) for key in self._keys(email, ip))

    def record_failure(self, email: str, ip: str) -> None:
        """Count a failed attempt against both the email and the address."""
        now = self._clock()
        self._forget_stale(now)
        for key in self._keys(email, ip):
            entry = self._failures.get(key)
            if entry is None or now - entry.last > FORGET_AFTER_SECONDS:
                self._failures[key] = _Failures(1, now)
            else:
                entry.count += 1
                entry.last = now

    def record_success(self, email: str, ip: str) -> None:
        """A correct password clears the email's count.

        The address keeps its count: otherwise an attacker holding one account
        could sign into it between guesses to reset the counter for their address.
        """
        email_key, _ = self._keys(email, ip)
        self._failures.pop(email_key, None)

    def failures(self, email: str, ip: str) -> tuple[int, int]:
        """(failures counted for the email, failures counted for the address)."""
        email_key, ip_key = self._keys(email, ip)
        return tuple(  # type: ignore[return-value]
            entry.count if (entry := self._failures.get(key)) else 0
            for key in (email_key, ip_key))

    def _forget_stale(self, now: float) -> None:
        if len(self._failures) < MAX_TRACKED_KEYS:
            return
        stale = [key for key, entry in self._failures.items()
                 if now - entry.last > FORGET_AFTER_SECONDS]
        for key in stale:
            del self._failures[key]
        if len(self._failures) >= MAX_TRACKED_KEYS:
            # Still full of fresh entries: drop the oldest half rather than grow without bound.
            oldest = sorted(self._failures, key=lambda key: self._failures[key].last)
            for key in oldest[: len(oldest) // 2]:
                del self._failures[key]
