"""What phone codes need of cluster mode: a ledger of the live codes of every process.

One process needs none. With several processes (docs/architecture.md, "Several
processes") each code is issued, withdrawn and re-issued by the home process of its
session, which keeps the rules (codes.py); Twilio may call any process, which finds
the code in the ledger. The ledger stores what the homes decide and makes the two
things that must hold across processes atomic: a code's digits belong to one live
code of the cluster, and a code is used at most once. It is implemented over Redis in
state/cluster/codes.py and handed in by server.py: this package imports nothing of it.

The messages between processes are declared below. They are best effort (pub/sub):
each home mends what it missed at its next sync with the ledger, which runs after
every change, every expiry run and every reconnect to Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

# To a code's home, from the process that used it: mark "call connected", drop the code.
CODE_USED = "code_used"  # {"code": digits, "token": the issue}
# To every other process after a reissue step (the ledger retired every code at once):
# give your clients new codes.
CODES_REISSUE = "codes_reissue"
# To every other process: an operator cleared their phone; drop their codes.
OPERATOR_CODES_WITHDRAWN = "operator_codes_withdrawn"  # {"operator_id": ...}

# What became of one of this process's codes at a sync:
#   claimed    the ledger holds it: show it and let it be used
#   taken      another live code of the cluster has these digits: draw others
#   retired    a reissue step killed it: draw others
#   used       a call used it (on another process)
#   withdrawn  withdrawn by another process (its operator's phone was cleared, or this
#              process was taken for dead)
Outcome = Literal["claimed", "taken", "retired", "used", "withdrawn"]


class CodeLedger(Protocol):
    """The live codes of every process. Methods that await raise ConnectionError when
    the ledger cannot be reached; the others work in the background and retry."""

    process: str  # this process's name: the home of the codes it issues

    def attach(self, held: Callable[[], list[tuple[dict, float]]],
               settle: Callable[[dict[str, Outcome]], None]) -> None:
        """`held()`: this process's live codes (records, seconds left); `settle(outcomes)`
        gets what became of each (by token) at every sync."""

    def sync(self) -> None:
        """Soon: make the ledger hold exactly `held()` for this process (codes it holds
        no more are withdrawn), then `settle`."""

    def withdraw_operator(self, operator_id: str) -> None:
        """Soon: withdraw every code of the operator, whichever process issued it."""

    async def use(self, code: str) -> dict | None:
        """The record of live code `code` with its "home", now used; or None."""

    async def retire_all(self) -> None:
        """Kill every code of the cluster at once (a reissue step)."""

    def on(self, kind: str, handler: Callable[[str, dict], None]) -> None:
        """`handler(origin process, message)` for each message of that type."""

    def tell(self, process: str, message: dict) -> None: ...

    def tell_all(self, message: dict) -> None: ...
