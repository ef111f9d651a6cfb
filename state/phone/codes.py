"""Phone access codes: call forwarding from the central Twilio number to an operator.

An operator switches forwarding on for one client (one Monitor entry); the
interviewee is shown the central number and a 4-digit code. A caller who types
a live code is bridged to that operator's own phone. A code expires after
`twilio: code minutes`, dies the moment a call uses it, and is withdrawn when forwarding is
switched off, the session is blocked or the client is forgotten.

Typed codes go through `attempt`, which applies, in order, the per-number limit
(`limits.CallerLimiter`) and the server-wide budget of wrong codes
(`limits.WrongCodeBudget`): while the budget is spent code entry is paused for
everyone, and every few wrong codes every live code is re-issued (see limits.py for
why this keeps an attacker with unlimited numbers below a 1 % chance a day).

No Tornado here: `expire_codes` is a plain method that server.py runs as a
periodic job, and the clock is injectable so tests never sleep.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from state.livehelp.errors import LiveHelpError
from state.livehelp.extension import Extension, ModelView
from state.livehelp.records import Client
from state.phone.limits import CallerLimiter, WrongCodeBudget
from state.phone.numbers import format_for_people, validate_e164

CODE_DIGITS = 4
# Every 4-digit string, 0000 included: the space a caller must guess in.
CODE_SPACE = 10**CODE_DIGITS
# The Monitor shows "call connected" this long after a code is used: long enough
# for the operator to notice, short enough not to mislead once the call is over.
CALL_CONNECTED_SECONDS = 180.0

log = logging.getLogger(__name__)


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

    def live(self, now: float) -> bool:
        return now < self.expires

    @property
    def expires_iso(self) -> str:
        return datetime.fromtimestamp(self.expires, UTC).isoformat()


@dataclass(frozen=True)
class Attempt:
    """What became of a caller's try (`AccessCodes.gate` / `AccessCodes.attempt`)."""

    access: AccessCode | None = None  # the code was live: bridge the call
    wrong: bool = False  # the digits were checked and are no live code
    caller_refused: bool = False  # this number typed too many wrong codes
    paused: bool = False  # code entry is paused server-wide
    report: str | None = None  # this try started the pause: words for the audit log


class ForwardingSettings(Protocol):
    """The `twilio:` settings codes depend on (config.TwilioConfig), read at each use:
    voice may be switched on while the server runs."""

    voice: bool
    number: str  # the central number, E.164
    code_minutes: float
    wrong_codes_per_day: int


class AccessCodes(Extension):
    """The registry of live codes, indexed by code and by client; one removal function."""

    def __init__(self, model: ModelView, twilio: ForwardingSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self.model = model
        self.twilio = twilio
        self.clock = clock
        self.limiter = CallerLimiter(clock=clock)
        self.budget = WrongCodeBudget(budget=twilio.wrong_codes_per_day, clock=clock)
        self._by_code: dict[str, AccessCode] = {}
        self._by_client: dict[str, AccessCode] = {}
        # client key -> (operator id, until): the Monitor's "call connected" mark.
        self._connected: dict[str, tuple[str, float]] = {}

    @property
    def voice_enabled(self) -> bool:
        return self.twilio.voice

    @property
    def central_number(self) -> str:
        return self.twilio.number

    # ------------------------------------------------------------------ operator side
    def enable(self, client_key: str, operator_id: str) -> AccessCode:
        """Switch forwarding on for the client's session to this operator; a fresh code.

        Replaces any earlier code of the client. Refused (LiveHelpError) when voice
        is off, the operator has no valid phone number, the client is unknown or
        its session is blocked.
        """
        if not self.voice_enabled:
            raise LiveHelpError("voice_off", "Telephone call forwarding is not configured.")
        operator = self.model.find_operator(operator_id)
        phone = operator.settings.phone if operator else ""
        if not phone:
            raise LiveHelpError("no_phone", "Set your phone number before forwarding calls.")
        try:
            validate_e164(phone)
        except ValueError as error:
            raise LiveHelpError("bad_phone", f"Your phone number {error}.") from None
        client = self.model.find_client(client_key)
        if client is None:
            raise LiveHelpError("unknown_session", "That session is not active.")
        if self.model.find_session(client.session_id).blocked:
            raise LiveHelpError("blocked", "Unblock this session before forwarding calls.")
        now = self.clock()
        # Drawn before the old code is removed, so the new code always differs from it.
        access = AccessCode(self._fresh_code(), client_key, client.session_id, operator_id,
                            created=now, expires=now + self.twilio.code_minutes * 60,
                            operator_phone=phone)
        self._remove(self._by_client.get(client_key))
        self._add(access)
        self.model.publish_session(client.session_id)
        return access

    def disable(self, client_key: str) -> bool:
        """Switch forwarding off for the client: its code dies. False if it had none."""
        access = self._by_client.get(client_key)
        if access is None:
            return False
        self._remove(access)
        self.model.publish_session(access.session_id)
        return True

    def disable_operator(self, operator_id: str) -> int:
        """Withdraw every code of one operator (e.g. they cleared their phone); how many."""
        mine = [a for a in self._by_code.values() if a.operator_id == operator_id]
        for access in mine:
            self._remove(access)
        for session_id in sorted({a.session_id for a in mine}):
            self.model.publish_session(session_id)
        return len(mine)

    def for_client(self, client_key: str) -> AccessCode | None:
        """The client's live code, if forwarding is on (and the session not blocked since)."""
        access = self._by_client.get(client_key)
        if access is None or not access.live(self.clock()) or not self._still_allowed(access):
            return None
        return access

    def call_connected(self, client_key: str) -> bool:
        mark = self._connected.get(client_key)
        return bool(mark and self.clock() < mark[1])

    # ------------------------------------------------------------------ caller side
    def gate(self, caller: str) -> Attempt | None:
        """Why `caller` may not type a code now (refused number, entry paused), or None."""
        if self.limiter.refused(caller):
            return Attempt(caller_refused=True)
        if self.budget.paused():
            return Attempt(paused=True)
        return None

    def attempt(self, digits: str, caller: str) -> Attempt:
        """Check the digits a caller typed, within the per-number and server-wide limits.

        A live code is used (see `use`). A wrong one counts against the caller's
        number and, if it has CODE_DIGITS digits (only those can be a code), against
        the server-wide budget, which may re-issue every live code and pause entry.
        """
        refused = self.gate(caller)
        if refused is not None:
            return refused
        access = self.use(digits)
        if access is not None:
            return Attempt(access=access)
        caller_refused = self.limiter.record_failure(caller)
        if len(digits) != CODE_DIGITS:
            return Attempt(wrong=True, caller_refused=caller_refused)
        step = self.budget.record(caller)
        if step.reissue:
            self.reissue_all()
        if step.report:
            log.warning("phone access codes: %s", step.report)
        return Attempt(wrong=True, caller_refused=caller_refused, paused=step.paused,
                       report=step.report)

    def reissue_all(self) -> int:
        """Give every live code a fresh random one (the old ones die at once); how many.

        The expiry stays. Each session concerned is re-published, so the user's page
        shows the new code and the Monitor entry is refreshed at once.
        """
        now = self.clock()
        retired = set(self._by_code)
        # New codes differ from the retired ones, unless that would not leave room.
        avoid = retired if 2 * len(retired) < CODE_SPACE else set()
        affected: set[str] = set()
        reissued = 0
        for old in list(self._by_code.values()):
            self._remove(old)
            affected.add(old.session_id)
            if old.live(now) and self._still_allowed(old):
                self._add(replace(old, code=self._fresh_code(avoid), created=now))
                reissued += 1
        for session_id in sorted(affected):
            self.model.publish_session(session_id)
        return reissued

    def use(self, code: str) -> AccessCode | None:
        """The live code `code`, killed at once (a code places one call), or None.

        A code whose session was blocked or whose client went away meanwhile is
        killed and refused. A used code marks the client "call connected".
        """
        access = self._by_code.get(code)
        if access is None:
            return None
        self._remove(access)
        if not access.live(self.clock()) or not self._still_allowed(access):
            self.model.publish_session(access.session_id)
            return None
        self._connected[access.client_key] = (
            access.operator_id, self.clock() + CALL_CONNECTED_SECONDS)
        self.model.publish_session(access.session_id)
        return access

    def operator_number(self, access: AccessCode) -> str | None:
        """Where to dial: the operator's current number (None if they cleared it),
        or the number at creation when the operator is no longer known to the model."""
        operator = self.model.find_operator(access.operator_id)
        if operator is None:
            return access.operator_phone
        return operator.settings.phone or None

    # ------------------------------------------------------------------ periodic job
    def expire_codes(self) -> None:
        """Remove expired or no-longer-allowed codes and stale "call connected" marks;
        re-publish each affected session so pages drop the icon within one period."""
        now = self.clock()
        affected: set[str] = set()
        for access in list(self._by_code.values()):
            if not access.live(now) or not self._still_allowed(access):
                self._remove(access)
                affected.add(access.session_id)
        for key, (_operator, until) in list(self._connected.items()):
            if until <= now:
                del self._connected[key]
                client = self.model.find_client(key)
                if client:
                    affected.add(client.session_id)
        self.limiter.prune()
        self.budget.prune()
        for session_id in sorted(affected):
            self.model.publish_session(session_id)

    # ------------------------------------------------------------------ internals
    def _fresh_code(self, avoid: set[str] | frozenset[str] = frozenset()) -> str:
        """A random code that is not live (nor in `avoid`)."""
        if len(self._by_code) + len(avoid) >= CODE_SPACE:
            raise LiveHelpError("no_codes", "Too many calls are being forwarded; try again soon.")
        while True:
            code = f"{secrets.randbelow(CODE_SPACE):0{CODE_DIGITS}d}"
            if code not in self._by_code and code not in avoid:
                return code

    def _add(self, access: AccessCode) -> None:
        """The one insertion: both indexes."""
        self._by_code[access.code] = access
        self._by_client[access.client_key] = access

    def _remove(self, access: AccessCode | None) -> None:
        """The one removal function: both indexes."""
        if access is None:
            return
        if self._by_code.get(access.code) is access:
            del self._by_code[access.code]
        if self._by_client.get(access.client_key) is access:
            del self._by_client[access.client_key]

    def _still_allowed(self, access: AccessCode) -> bool:
        client = self.model.find_client(access.client_key)
        session = self.model.find_session(access.session_id)
        return client is not None and session is not None and not session.blocked

    def decorate_entry(self, client: Client, entry: dict) -> None:
        if not self.voice_enabled:
            entry["phone"] = None
            return
        access = self.for_client(client.key)
        mark = self._connected.get(client.key)
        connected = self.call_connected(client.key)
        entry["phone"] = {
            "forwarding": access is not None,
            "operator_id": access.operator_id if access else (mark[0] if connected else None),
            "call_connected": connected,
        }

    def decorate_state(self, client: Client, state: dict) -> None:
        access = self.for_client(client.key) if self.voice_enabled else None
        if access is None:
            state["phone"] = None
            return
        state["phone"] = {
            "number": format_for_people(self.central_number),
            "tel": self.central_number,
            "code": access.code,
            "expires": access.expires_iso,
        }
