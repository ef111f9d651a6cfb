"""Delivery of the model's outgoing events to subscribers.

The live-help model publishes JSON-ready dicts to named channels; socket handlers
subscribe a callback per channel. This is the one place that changes when events
must cross processes (Redis pub/sub).

Channels:
  "monitor"              every connected operator
  "operator:<user id>"   one operator's sockets
  "client:<entry key>"   one interviewee's sockets (one browser in one session)
  "session:<session id>" every interviewee socket of one interview session
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

log = logging.getLogger(__name__)

Subscriber = Callable[[dict], None]


class Hub:
    """In-process publish/subscribe; callbacks must not block."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)

    def subscribe(self, channel: str, callback: Subscriber) -> None:
        self._subscribers[channel].add(callback)

    def unsubscribe(self, channel: str, callback: Subscriber) -> None:
        callbacks = self._subscribers.get(channel)
        if callbacks is not None:
            callbacks.discard(callback)
            if not callbacks:
                del self._subscribers[channel]

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))

    def publish(self, channel: str, message: dict) -> None:
        for callback in list(self._subscribers.get(channel, ())):
            try:
                callback(message)
            except Exception:  # one broken subscriber must not stop the others
                log.exception("subscriber of %s failed; dropping it", channel)
                self.unsubscribe(channel, callback)
