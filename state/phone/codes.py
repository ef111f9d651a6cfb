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

Cluster mode (`share`): the session's home process keeps its codes as one process
does and mirrors them into a `ledger.CodeLedger` that every process reads (Redis): a
code is shown once the ledger holds it (unique in the cluster), any process's `use`
takes it there at most once and tells the home, and the limits count in a shared tally.

No Tornado here: `expire_codes` is a plain method that server.py runs as a
periodic job, and the clock is injectable so tests never sleep.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace

from state.livehelp.errors import LiveHelpError
from state.livehelp.extension import Extension, ModelView
from state.livehelp.records import Client
from state.phone.ledger import (
    CODE_USED,
    CODES_REISSUE,
    OPERATOR_CODES_WITHDRAWN,
    CodeLedger,
    Outcome,
)
from state.phone.limits import CallerLimiter, MemoryTally, Tally, WrongCodeBudget
from state.phone.numbers import format_for_people, validate_e164
from state.phone.records import (
    CALL_CONNECTED_SECONDS,
    CODE_DIGITS,
    CODE_SPACE,
    AccessCode,
    Attempt,
    ForwardingSettings,
    new_token,
)

log = logging.getLogger(__name__)


class AccessCodes(Extension):
    """The registry of live codes, indexed by code and by client; one removal function."""

    def __init__(self, model: ModelView, twilio: ForwardingSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self.model = model
        self.twilio = twilio
        self.clock = clock
        self._count_in(MemoryTally(clock))
        self.ledger: CodeLedger | None = None  # cluster mode only
        self._by_code: dict[str, AccessCode] = {}
        self._by_client: dict[str, AccessCode] = {}
        # client key -> (operator id, until): the Monitor's "call connected" mark.
        self._connected: dict[str, tuple[str, float]] = {}

    def share(self, ledger: CodeLedger, tally: Tally) -> None:
        """Cluster mode: codes mirrored into `ledger`, the limits counted in `tally`,
        both shared by every process."""
        self.ledger = ledger
        self._count_in(tally)
        ledger.attach(self._held, self._settle)
        ledger.on(CODE_USED, lambda _home, told: self._use_here(told["code"], told["token"]))
        ledger.on(CODES_REISSUE, lambda _origin, _told: self.reissue_all())
        ledger.on(OPERATOR_CODES_WITHDRAWN,
                  lambda _origin, told: self._withdraw_operator(told["operator_id"]))

    def _count_in(self, tally: Tally) -> None:
        """Both limits count in `tally`, so `expire_codes` prunes it once."""
        self.tally = tally
        self.limiter = CallerLimiter(tally=tally)
        self.budget = WrongCodeBudget(budget=self.twilio.wrong_codes_per_day, tally=tally)

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
        its session is blocked. In cluster mode the user is shown it once claimed.
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
                            operator_phone=phone, claimed=self.ledger is None)
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
        """Withdraw every code of one operator (e.g. they cleared their phone); how many
        of this process. In cluster mode, the codes other homes issued too."""
        if self.ledger is not None:
            self.ledger.withdraw_operator(operator_id)
            self.ledger.tell_all({"type": OPERATOR_CODES_WITHDRAWN, "operator_id": operator_id})
        return self._withdraw_operator(operator_id)

    def for_client(self, client_key: str) -> AccessCode | None:
        """The client's live code, if forwarding is on (and the session not blocked since)."""
        access = self._by_client.get(client_key)
        if access is None:
            return None
        if not self._still_allowed(access):
            # The model publishes a session it blocks, which asks this: withdrawn now, not
            # at the next expiry run, because other processes know codes only from the ledger.
            self._remove(access)
            return None
        return access if access.claimed and access.live(self.clock()) else None

    def call_connected(self, client_key: str) -> bool:
        mark = self._connected.get(client_key)
        return bool(mark and self.clock() < mark[1])

    # ------------------------------------------------------------------ caller side
    async def gate(self, caller: str) -> Attempt | None:
        """Why `caller` may not type a code now (refused number, entry paused), or None."""
        try:
            if await self.limiter.refused(caller):
                return Attempt(caller_refused=True)
            if await self.budget.paused():
                return Attempt(paused=True)
        except ConnectionError as error:
            return self._unavailable(error)
        return None

    async def attempt(self, digits: str, caller: str) -> Attempt:
        """Check the digits a caller typed, within the per-number and server-wide limits.

        A live code is used (see `use`). A wrong one counts against the caller's
        number and, if it has CODE_DIGITS digits (only those can be a code), against
        the server-wide budget, which may re-issue every live code and pause entry.
        """
        try:
            return await self._check(digits, caller)
        except ConnectionError as error:
            return self._unavailable(error)

    async def _check(self, digits: str, caller: str) -> Attempt:
        # Places are taken before the code is checked (limits.py says why).
        caller_place = await self.limiter.take(caller)
        if caller_place is None:
            return Attempt(caller_refused=True)
        full = len(digits) == CODE_DIGITS
        budget_place = await self.budget.take(caller) if full else None
        if budget_place is None and (full or await self.budget.paused()):
            await self.limiter.give_back(caller_place)
            return Attempt(paused=True)
        access = await self.use(digits)
        if access is not None:
            # A caller with the right code is bridged even if the places stay counted.
            with contextlib.suppress(ConnectionError):
                await self.limiter.give_back(caller_place)
                if budget_place is not None:
                    await self.budget.give_back(budget_place)
            return Attempt(access=access)
        caller_refused = await self.limiter.failed(caller)
        if not full:
            return Attempt(wrong=True, caller_refused=caller_refused)
        step = await self.budget.wrong()
        if step.reissue:
            if self.ledger is not None:  # every code of the cluster dies now; homes re-issue
                await self.ledger.retire_all()
                self.ledger.tell_all({"type": CODES_REISSUE})
            self.reissue_all()
        if step.report:
            log.warning("phone access codes: %s", step.report)
        return Attempt(wrong=True, caller_refused=caller_refused, paused=step.paused,
                       report=step.report)

    def _unavailable(self, error: ConnectionError) -> Attempt:
        log.warning("phone access codes cannot be checked: %s", error)
        return Attempt(unavailable=True)

    def reissue_all(self) -> int:
        """Give every live code a fresh random one (the old ones die at once); how many.

        The expiry stays. Each session concerned is re-published, so the user's page
        shows the new code and the Monitor entry is refreshed at once (in cluster mode
        again once the ledger holds it).
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
                self._add(replace(old, code=self._fresh_code(avoid), created=now,
                                  token=new_token(), claimed=self.ledger is None))
                reissued += 1
        for session_id in sorted(affected):
            self.model.publish_session(session_id)
        return reissued

    async def use(self, code: str) -> AccessCode | None:
        """The live code `code`, killed at once (a code places one call), or None.

        A code whose session was blocked or whose client went away meanwhile is
        killed and refused. A used code marks the client "call connected". In cluster
        mode the ledger decides, for a code of any home (which it tells).
        """
        if self.ledger is None:
            return self._use_here(code)
        record = await self.ledger.use(code)
        if record is None:
            return None
        home = record.pop("home")
        if home == self.ledger.process:
            return self._use_here(code, record["token"])
        self.ledger.tell(home, {"type": CODE_USED, "code": code, "token": record["token"]})
        return AccessCode(**record)

    def _use_here(self, code: str, token: str | None = None) -> AccessCode | None:
        """`use` of a code this process issued (`token`: that very issue)."""
        access = self._by_code.get(code)
        if access is None or token not in (None, access.token):
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
        re-publish each affected session so pages drop the icon within one period.
        In cluster mode, also bring the ledger in line (what other processes did)."""
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
        self.tally.prune()
        for session_id in sorted(affected):
            self.model.publish_session(session_id)
        if self.ledger is not None:
            self.ledger.sync()

    # ------------------------------------------------------------------ the ledger
    def _held(self) -> list[tuple[dict, float]]:
        """What the ledger must hold for this process: each live code, seconds left."""
        now = self.clock()
        return [(access.record(), access.expires - now)
                for access in self._by_code.values() if access.live(now)]

    def _settle(self, outcomes: dict[str, Outcome]) -> None:
        """What the ledger says of this process's codes (by token)."""
        affected: set[str] = set()
        for access in list(self._by_code.values()):
            outcome = outcomes.get(access.token)
            if outcome == "claimed" and not access.claimed:
                access.claimed = True
                affected.add(access.session_id)
            elif outcome == "used":  # by another process, whose message did not come
                self._use_here(access.code, access.token)
            elif outcome == "withdrawn":
                self._remove(access)
                affected.add(access.session_id)
            elif outcome in ("taken", "retired"):  # its digits are another's, or a reissue
                self._remove(access)
                self._add(replace(access, code=self._fresh_code({access.code}),
                                  token=new_token(), claimed=False))
                if access.claimed:
                    affected.add(access.session_id)
        for session_id in sorted(affected):
            self.model.publish_session(session_id)

    def _withdraw_operator(self, operator_id: str) -> int:
        mine = [a for a in self._by_code.values() if a.operator_id == operator_id]
        for access in mine:
            self._remove(access)
        for session_id in sorted({a.session_id for a in mine}):
            self.model.publish_session(session_id)
        return len(mine)

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
        """The one insertion: both indexes (and the ledger, soon)."""
        self._by_code[access.code] = access
        self._by_client[access.client_key] = access
        if self.ledger is not None:
            self.ledger.sync()

    def _remove(self, access: AccessCode | None) -> None:
        """The one removal function: both indexes (and the ledger, soon)."""
        if access is None:
            return
        if self._by_code.get(access.code) is access:
            del self._by_code[access.code]
        if self._by_client.get(access.client_key) is access:
            del self._by_client[access.client_key]
        if self.ledger is not None:
            self.ledger.sync()

    def _still_allowed(self, access: AccessCode) -> bool:
        client = self.model.find_client(access.client_key)
        session = self.model.find_session(access.session_id)
        return client is not None and session is not None and not session.blocked

    def client_forgotten(self, client: Client) -> None:
        self._remove(self._by_client.get(client.key))
        self._connected.pop(client.key, None)

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
