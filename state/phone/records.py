"""What a phone access code is: the code itself, what became of a caller's try, and the
`twilio:` settings codes depend on (the rules are in codes.py)."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Protocol

CODE_DIGITS = 4
# Every 4-digit string, 0000 included: the space a caller must guess in.
CODE_SPACE = 10**CODE_DIGITS
# The Monitor shows "call connected" this long after a code is used: long enough
# for the operator to notice, short enough not to mislead once the call is over.
CALL_CONNECTED_SECONDS = 180.0


def new_token() -> str:
    """Names one issue of a code: the same digits issued again are another code."""
    return secrets.token_hex(8)


@dataclass
class AccessCode:
    """One live code: who may be reached (operator) about what (client, session)."""

    code: str
    client_key: str
    session_id: str
    operator_id: str
    created: float  # seconds since the epoch, from the AccessCodes clock
    expires: float
    operator_phone: str | None = None  # the operator's number when the code was made
    token: str = field(default_factory=new_token)
    # Shown and usable only once the cluster's ledger holds it (always, in one process).
    claimed: bool = True

    def live(self, now: float) -> bool:
        return now < self.expires

    @property
    def expires_iso(self) -> str:
        return datetime.fromtimestamp(self.expires, UTC).isoformat()

    def record(self) -> dict:
        """What the ledger keeps of the code."""
        record = asdict(self)
        del record["claimed"]
        return record


@dataclass(frozen=True)
class Attempt:
    """What became of a caller's try (`AccessCodes.gate` / `AccessCodes.attempt`)."""

    access: AccessCode | None = None  # the code was live: bridge the call
    wrong: bool = False  # the digits were checked and are no live code
    caller_refused: bool = False  # this number typed too many wrong codes
    paused: bool = False  # code entry is paused server-wide
    report: str | None = None  # this try started the pause: words for the audit log
    unavailable: bool = False  # cluster mode: the shared ledger cannot be reached


class ForwardingSettings(Protocol):
    """The `twilio:` settings codes depend on (config.TwilioConfig), read at each use:
    voice may be switched on while the server runs."""

    voice: bool
    number: str  # the central number, E.164
    code_minutes: float
    wrong_codes_per_day: int
