"""Group commit: concurrent writes of the same kind share one round trip.

Items submitted while a batch is being written wait for the next batch, so under
load each batch carries everything that arrived meanwhile, and alone an item is
written at once. Both stores write chat messages this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """`await submit(item)` returns that item's entry of `write_batch(batch)`."""

    def __init__(self, write_batch: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        self.write_batch = write_batch
        self._pending: list[tuple[Item, asyncio.Future]] = []
        self._writer: asyncio.Future | None = None

    async def submit(self, item: Item) -> Result:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_all())
        return await future

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self.write_batch([item for item, _ in batch])
                except Exception as exc:  # noqa: BLE001  every waiter learns why
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._writer = None
