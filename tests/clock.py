"""The one fake clock of the tests: seconds that move only when the test says so."""

from __future__ import annotations


class FakeClock:
    """A clock (monotonic or wall: `start` decides) the test moves with `advance`."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
