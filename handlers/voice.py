"""Twilio voice webhooks: the caller types an access code and is bridged to an operator.

Twilio requests `voice` when someone calls the central number (configure the
number's incoming-call webhook as POST <public url>/voice). Every request must
carry a valid `X-Twilio-Signature` over the public URL and the POST fields;
anything else gets a bare 403. The Twilio signature replaces the XSRF cookie.

Tries per call travel in the Gather action URL (`voice/code?attempt=N`): Twilio
signs that URL too, so a caller cannot reset the count, and the server keeps no
per-call state. Wrong codes also count against the caller's number and against
the server-wide budget (state/phone/limits.py), across calls: `AccessCodes.attempt`
decides, this module only says it in words. In cluster mode any process may answer:
codes and counts are shared (state/phone/ledger.py); when they cannot be reached the
caller is told so and the call ends.
"""

from __future__ import annotations

import logging

import tornado.web
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from handlers.base import BaseHandler
from state.phone.records import CODE_DIGITS, Attempt
from state.store.base import AuditEntry, StoreError

log = logging.getLogger(__name__)

# Tries a caller gets within one call before we hang up; with the per-number
# limiter this keeps a guesser to a handful of codes per call.
MAX_TRIES_PER_CALL = 3
# Seconds Twilio waits for the first and between digits: a person reading a
# code off a screen needs longer than Twilio's default of 5.
GATHER_TIMEOUT_SECONDS = 10

PROMPT = f"Please enter your {CODE_DIGITS} digit access code."
NO_DIGITS = "We did not receive any digits."
NOT_DIGITS = "Please use only the number keys."
NOT_VALID = "That code is not valid."
NO_INPUT_GOODBYE = "We did not receive a code. Goodbye."
TOO_MANY_TRIES = "Too many attempts. Goodbye."
CALLER_REFUSED = "Too many wrong codes were entered from this phone. Please try again later."
ENTRY_PAUSED = ("Code entry is paused because too many wrong codes were entered. "
                "Please try again later.")
OPERATOR_UNREACHABLE = "The operator cannot take calls right now. Please try again later."
UNAVAILABLE = "Code entry is not available right now. Please try again in a few minutes."
CONNECTING = "Connecting you to the operator now."


class FormParams(dict):
    """POST fields with every value kept, in the shape RequestValidator signs (`getall`)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


class VoiceHandler(BaseHandler):
    """Base of the Twilio webhooks: POST only, voice must be on, signature checked."""

    # Anything but POST is answered 405 before prepare() runs.
    SUPPORTED_METHODS = ("POST",)

    def check_xsrf_cookie(self) -> None:
        """No XSRF cookie from Twilio; the request signature checked in prepare() replaces it."""

    async def prepare(self) -> None:
        """Refuse before any TwiML: 404 when voice is off, 403 without a valid signature."""
        self.current_user = None
        if not self.config.twilio.voice:
            raise tornado.web.HTTPError(404)
        self.params = self.form()
        if not self.signature_valid():
            log.warning("refused a voice webhook with a missing or bad Twilio signature")
            raise tornado.web.HTTPError(403)

    def form(self) -> FormParams:
        return FormParams({
            name: [value.decode("utf-8", "replace") for value in values]
            for name, values in self.request.body_arguments.items()
        })

    def signature_valid(self) -> bool:
        signature = self.request.headers.get("X-Twilio-Signature")
        if not signature:
            return False
        url = self.public_base_url() + self.request.uri
        algorithm = get_signature_algorithm(
            self.request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
        validator = RequestValidator(self.config.twilio.auth_token)
        return validator.validate(url, self.params, signature, algorithm)

    def field(self, name: str) -> str:
        values = self.params.get(name)
        return values[-1] if values else ""

    def write_error(self, status_code: int, **kwargs) -> None:
        """Refusals carry no body: nothing for an unsigned caller to learn from."""
        self.finish()

    def send_twiml(self, response: VoiceResponse) -> None:
        self.set_header("Content-Type", "text/xml; charset=UTF-8")
        self.finish(response.to_xml())

    def ask_for_code(self, response: VoiceResponse, attempt: int) -> VoiceResponse:
        """Gather the digits into voice/code; if the caller types nothing at all, hang up."""
        action = f"{self.public_base_url()}{self.url('voice/code')}?attempt={attempt}"
        gather = Gather(num_digits=CODE_DIGITS, action=action, method="POST",
                        timeout=GATHER_TIMEOUT_SECONDS, action_on_empty_result=True)
        gather.say(PROMPT)
        response.append(gather)
        response.say(NO_INPUT_GOODBYE)
        response.hangup()
        return response

    def hang_up(self, text: str) -> None:
        """Say `text`, then end the call."""
        response = VoiceResponse()
        response.say(text)
        response.hangup()
        self.send_twiml(response)

    def refuse(self, attempt: Attempt) -> bool:
        """Hang up with the reason if `attempt` refuses the caller; False if it does not."""
        if attempt.unavailable:
            self.hang_up(UNAVAILABLE)
        elif attempt.caller_refused:
            self.hang_up(CALLER_REFUSED)
        elif attempt.paused:
            self.hang_up(f"{NOT_VALID} {ENTRY_PAUSED}" if attempt.wrong else ENTRY_PAUSED)
        else:
            return False
        return True


class IncomingCallHandler(VoiceHandler):
    """`voice`: a call to the central number; ask for the code."""

    async def post(self) -> None:
        refused = await self.codes.gate(self.field("From"))
        if refused is not None:
            self.refuse(refused)
            return
        self.send_twiml(self.ask_for_code(VoiceResponse(), attempt=1))


class CodeHandler(VoiceHandler):
    """`voice/code`: the digits typed; bridge to the operator or ask again."""

    async def post(self) -> None:
        caller = self.field("From")
        refused = await self.codes.gate(caller)
        if refused is not None:
            self.refuse(refused)
            return
        tries = self.tries()
        digits = self.field("Digits").strip()
        if not digits:
            self.try_again(NO_DIGITS, tries)
            return
        if not digits.isascii() or not digits.isdigit():
            self.try_again(NOT_DIGITS, tries)
            return
        attempt = await self.codes.attempt(digits, caller)
        if attempt.report:
            await self.audit_pause(attempt.report)
        access = attempt.access
        if access is None:
            if not self.refuse(attempt):
                self.try_again(NOT_VALID, tries)
            return
        number = self.codes.operator_number(access)
        if number is None:  # the operator cleared their phone after switching forwarding on
            self.hang_up(OPERATOR_UNREACHABLE)
            return
        await self.audit(access.session_id, access.operator_id, caller)
        response = VoiceResponse()
        response.say(CONNECTING)
        # The caller id is the central number and the operator's number is only in
        # TwiML sent to Twilio, so the caller never learns it.
        dial = Dial(caller_id=self.config.twilio.number)
        dial.number(number)
        response.append(dial)
        self.send_twiml(response)

    def tries(self) -> int:
        """Which try of this call this is (from our own, signed, action URL)."""
        try:
            return max(int(self.get_query_argument("attempt", "1")), 1)
        except ValueError:
            return 1

    def try_again(self, reason: str, attempt: int) -> None:
        if attempt >= MAX_TRIES_PER_CALL:
            self.hang_up(f"{reason} {TOO_MANY_TRIES}")
            return
        response = VoiceResponse()
        response.say(reason)
        self.send_twiml(self.ask_for_code(response, attempt + 1))

    async def audit(self, session_id: str, operator_id: str, caller: str) -> None:
        """Record the call; a store outage must not drop a caller who had the right code."""
        operator = self.livehelp.find_operator(operator_id)
        entry = AuditEntry(
            actor_id=operator_id, actor_email=operator.user.email if operator else "",
            action="phone call", session_id=session_id,
            detail=f"call {self.field('CallSid')} from {caller or 'an unknown number'}",
        )
        try:
            await self.store.add_audit(entry)
        except StoreError:
            log.exception("could not record the phone call in the audit log")

    async def audit_pause(self, report: str) -> None:
        """Record that code entry paused server-wide (the budget reports once per window)."""
        entry = AuditEntry(actor_id="", actor_email="(telephone)",
                           action="phone codes paused", detail=report)
        try:
            await self.store.add_audit(entry)
        except StoreError:
            log.exception("could not record the code entry pause in the audit log")


routes = [
    (r"voice", IncomingCallHandler),
    (r"voice/code", CodeHandler),
]
