"""Twilio webhooks: signed requests against a live server, TwiML parsed as XML."""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import pytest
import tornado.httpclient
from twilio.request_validator import RequestValidator

from handlers.voice import MAX_TRIES_PER_CALL
from state.config import TwilioConfig
from state.phone.codes import AccessCode
from state.phone.limits import (
    MAX_CALLER_FAILURES,
    REISSUE_EVERY_WRONG_CODES,
    WRONG_CODE_BUDGET,
    WrongCodeBudget,
)
from state.store.base import SessionRecord, new_id

TOKEN = "test-auth-token"
CENTRAL = "+12762410114"
OPERATOR_PHONE = "+14155552671"
CALLER = "+15005550006"
PUBLIC_HOST = "help.example.org"


@pytest.fixture
def config(config, request):
    """Voice on with a test token; `{"voice": False}` or `{"behind": True}` via indirect params."""
    options = getattr(request, "param", {})
    config.twilio = TwilioConfig(voice=options.get("voice", True), auth_token=TOKEN,
                                 number=CENTRAL)
    if options.get("behind"):
        config.behind_https_load_balancer = True
        config.url_root = "/help/"
    return config


BEHIND_BALANCER = pytest.mark.parametrize("config", [{"behind": True}], indirect=True)
VOICE_OFF = pytest.mark.parametrize("config", [{"voice": False}], indirect=True)


async def post(url: str, params: dict, signature: str | None = "sign",
               headers: dict | None = None, local_url: str | None = None,
               token: str = TOKEN) -> tornado.httpclient.HTTPResponse:
    """POST `params` as Twilio would to `url`, signed over `url` unless told otherwise."""
    all_headers = dict(headers or {})
    if signature == "sign":
        signature = RequestValidator(token).compute_signature(url, params)
    if signature is not None:
        all_headers["X-Twilio-Signature"] = signature
    return await tornado.httpclient.AsyncHTTPClient().fetch(
        local_url or url, method="POST", body=urlencode(params), headers=all_headers,
        raise_error=False)


def twiml(response: tornado.httpclient.HTTPResponse) -> ElementTree.Element:
    assert response.code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.body)
    assert root.tag == "Response"
    return root


def verbs(root: ElementTree.Element) -> list[str]:
    return [child.tag for child in root]


def says(root: ElementTree.Element) -> list[str]:
    return [say.text or "" for say in root.iter("Say")]


def call(digits: str | None = None, caller: str = CALLER, call_sid: str = "CA1") -> dict:
    params = {"CallSid": call_sid, "From": caller, "To": CENTRAL, "AccountSid": "AC1"}
    if digits is not None:
        params["Digits"] = digits
    return params


async def forwarding(live_server) -> AccessCode:
    """An interviewee session and an operator with a phone, forwarding switched on."""
    livehelp = live_server.services.livehelp
    record = SessionRecord(id=new_id(), interview="demo", live_help={
        "availability": "available", "mode": "help", "partner_roles": ["advocate"]})
    client = livehelp.client_connected(record, "Demo", f"b:{new_id()}", None)
    user = await live_server.add_user(f"{new_id()}@example.com", ("advocate",))
    operator = await livehelp.operators.connected(user)
    operator.settings.phone = OPERATOR_PHONE
    return live_server.services.codes.enable(client.key, user.id)


def wrong_code(code: str) -> str:
    """A 4-digit code other than `code`."""
    return f"{(int(code) + 1) % 10000:04d}"


def live_code(live_server, access: AccessCode) -> str:
    """The client's code now (re-issued after a few wrong codes server-wide)."""
    return live_server.services.codes.for_client(access.client_key).code


async def rotating_caller(live_server, access: AccessCode, calls: int,
                          first: int = 0) -> ElementTree.Element:
    """`calls` calls from as many new numbers (from the `first`-th on), each typing wrong
    codes until hung up; the last answer."""
    for n in range(first, first + calls):
        caller, root = f"+1555000{n:04d}", None
        url = live_server.url("voice/code?attempt=1")
        while root is None or root.find("Gather") is not None:
            if root is not None:
                url = root.find("Gather").get("action")
            digits = wrong_code(live_code(live_server, access))
            root = twiml(await post(url, call(digits, caller=caller, call_sid=f"CA{n}")))
    return root


async def test_voice_asks_for_the_four_digit_code(live_server):
    root = twiml(await post(live_server.url("voice"), call()))
    assert verbs(root) == ["Gather", "Say", "Hangup"]
    gather = root.find("Gather")
    assert gather.get("numDigits") == "4"
    assert gather.get("method") == "POST"
    assert gather.get("action") == live_server.url("voice/code") + "?attempt=1"
    assert "4 digit access code" in gather.find("Say").text


async def test_a_correct_code_dials_the_operator_with_the_central_caller_id(live_server):
    access = await forwarding(live_server)
    root = twiml(await post(live_server.url("voice/code?attempt=1"), call(access.code)))
    dial = root.find("Dial")
    assert dial.get("callerId") == CENTRAL
    assert [number.text for number in dial.iter("Number")] == [OPERATOR_PHONE]
    assert not any(OPERATOR_PHONE in text for text in says(root))


async def test_a_used_code_dies_and_the_monitor_shows_call_connected(live_server):
    access = await forwarding(live_server)
    await post(live_server.url("voice/code?attempt=1"), call(access.code))
    livehelp = live_server.services.livehelp
    client = livehelp.client(access.client_key)
    assert livehelp.user_state(client)["phone"] is None
    assert livehelp.entry(client)["phone"]["call_connected"] is True


async def test_a_code_whose_operator_cleared_the_phone_hangs_up_politely(live_server):
    access = await forwarding(live_server)
    live_server.services.livehelp.operator(access.operator_id).settings.phone = ""
    root = twiml(await post(live_server.url("voice/code?attempt=1"), call(access.code)))
    assert verbs(root) == ["Say", "Hangup"]
    assert "cannot take calls" in root.find("Say").text
    assert await live_server.services.codes.limiter.failures(CALLER) == 0


async def test_a_placed_call_is_audited(live_server):
    access = await forwarding(live_server)
    await post(live_server.url("voice/code?attempt=1"), call(access.code, call_sid="CA77"))
    audit = await live_server.services.store.list_audit()
    assert [(a.action, a.session_id, a.actor_id) for a in audit] == [
        ("phone call", access.session_id, access.operator_id)]
    assert "CA77" in audit[0].detail


async def test_a_wrong_code_says_so_and_asks_again(live_server):
    access = await forwarding(live_server)
    root = twiml(await post(live_server.url("voice/code?attempt=1"),
                            call(wrong_code(access.code))))
    assert verbs(root)[:2] == ["Say", "Gather"]
    assert root.find("Say").text == "That code is not valid."
    assert root.find("Gather").get("action") == live_server.url("voice/code") + "?attempt=2"
    assert root.find("Dial") is None
    assert live_server.services.codes.for_client(access.client_key) is access


async def test_three_wrong_codes_in_one_call_hang_up(live_server):
    access = await forwarding(live_server)
    url = live_server.url("voice/code?attempt=1")
    for _ in range(2):
        root = twiml(await post(url, call(wrong_code(access.code))))
        url = root.find("Gather").get("action")
    root = twiml(await post(url, call(wrong_code(access.code))))
    assert verbs(root) == ["Say", "Hangup"]
    assert root.find("Say").text.startswith("That code is not valid.")


async def test_missing_digits_are_pointed_out_and_asked_again(live_server):
    root = twiml(await post(live_server.url("voice/code?attempt=1"), call()))
    assert root.find("Say").text == "We did not receive any digits."
    assert root.find("Gather").get("action").endswith("?attempt=2")


async def test_non_digits_are_pointed_out_and_asked_again(live_server):
    root = twiml(await post(live_server.url("voice/code?attempt=1"), call("12*#")))
    assert root.find("Say").text == "Please use only the number keys."
    assert root.find("Gather") is not None
    assert await live_server.services.codes.limiter.failures(CALLER) == 0


async def test_an_expired_code_is_not_valid(live_server):
    access = await forwarding(live_server)
    codes = live_server.services.codes
    codes.clock = lambda: time.time() + access.expires - access.created
    root = twiml(await post(live_server.url("voice/code?attempt=1"), call(access.code)))
    assert root.find("Say").text == "That code is not valid."
    assert root.find("Dial") is None


async def test_a_reused_code_is_not_valid(live_server):
    access = await forwarding(live_server)
    url = live_server.url("voice/code?attempt=1")
    assert twiml(await post(url, call(access.code))).find("Dial") is not None
    root = twiml(await post(url, call(access.code, caller="+15005550009", call_sid="CA2")))
    assert root.find("Dial") is None
    assert root.find("Say").text == "That code is not valid."


async def test_a_withdrawn_code_is_not_valid(live_server):
    access = await forwarding(live_server)
    live_server.services.codes.disable(access.client_key)
    root = twiml(await post(live_server.url("voice/code?attempt=1"), call(access.code)))
    assert root.find("Dial") is None


async def test_a_caller_with_ten_wrong_codes_is_refused_even_with_the_right_one(live_server):
    # Room in the server-wide budget, so that the per-number limit is what refuses.
    live_server.services.codes.budget = WrongCodeBudget(budget=100, reissue_every=100)
    access = await forwarding(live_server)
    wrong = wrong_code(access.code)
    for number in range(MAX_CALLER_FAILURES - 1):
        root = twiml(await post(live_server.url("voice/code?attempt=1"),
                                call(wrong, call_sid=f"CA{number}")))
        assert root.find("Gather") is not None
    root = twiml(await post(live_server.url("voice/code?attempt=1"), call(wrong)))
    assert verbs(root) == ["Say", "Hangup"]
    assert "Too many wrong codes" in root.find("Say").text
    root = twiml(await post(live_server.url("voice/code?attempt=1"), call(access.code)))
    assert verbs(root) == ["Say", "Hangup"]
    root = twiml(await post(live_server.url("voice"), call()))
    assert verbs(root) == ["Say", "Hangup"]
    other = twiml(await post(live_server.url("voice/code?attempt=1"),
                             call(access.code, caller="+15005550009")))
    assert other.find("Dial") is not None


async def test_rotating_the_caller_number_every_three_tries_is_refused_once_the_budget_is_spent(
        live_server):
    access = await forwarding(live_server)
    calls = WRONG_CODE_BUDGET // MAX_TRIES_PER_CALL
    before = await rotating_caller(live_server, access, calls - 1)
    assert "paused" not in " ".join(says(before))
    root = await rotating_caller(live_server, access, 1, first=calls - 1)
    assert verbs(root) == ["Say", "Hangup"]
    assert says(root) == [("That code is not valid. Code entry is paused because too many "
                           "wrong codes were entered. Please try again later.")]
    fresh = call(caller="+15559990000", call_sid="CA99")
    root = twiml(await post(live_server.url("voice"), fresh))
    assert verbs(root) == ["Say", "Hangup"] and "Code entry is paused" in says(root)[0]
    right = call(live_code(live_server, access), caller="+15559990000")
    root = twiml(await post(live_server.url("voice/code?attempt=1"), right))
    assert root.find("Dial") is None and "Code entry is paused" in says(root)[0]
    audit = await live_server.services.store.list_audit()
    assert [(a.action, a.actor_email) for a in audit] == [("phone codes paused", "(telephone)")]
    assert f"from {calls} caller numbers" in audit[0].detail


async def test_a_code_typed_after_reissue_fails_while_the_new_one_works(live_server):
    access = await forwarding(live_server)
    for n in range(REISSUE_EVERY_WRONG_CODES):
        await post(live_server.url("voice/code?attempt=1"),
                   call(wrong_code(live_code(live_server, access)), caller=f"+1555000{n:04d}"))
    new = live_code(live_server, access)
    assert new != access.code
    old = twiml(await post(live_server.url("voice/code?attempt=1"),
                           call(access.code, caller="+15559990001")))
    assert old.find("Dial") is None and says(old)[0] == "That code is not valid."
    root = twiml(await post(live_server.url("voice/code?attempt=1"),
                            call(new, caller="+15559990002")))
    assert [number.text for number in root.find("Dial").iter("Number")] == [OPERATOR_PHONE]


async def test_an_unsigned_request_is_refused(live_server):
    access = await forwarding(live_server)
    response = await post(live_server.url("voice/code?attempt=1"), call(access.code),
                          signature=None)
    assert (response.code, response.body) == (403, b"")
    assert live_server.services.codes.for_client(access.client_key) is access


async def test_a_request_signed_with_another_token_is_refused(live_server):
    response = await post(live_server.url("voice"), call(), token="not-the-token")
    assert (response.code, response.body) == (403, b"")


async def test_a_request_whose_fields_were_changed_after_signing_is_refused(live_server):
    access = await forwarding(live_server)
    url = live_server.url("voice/code?attempt=1")
    signature = RequestValidator(TOKEN).compute_signature(url, call("0000"))
    response = await post(url, call(access.code), signature=signature)
    assert response.code == 403
    assert live_server.services.codes.for_client(access.client_key) is access


async def test_a_changed_attempt_count_is_refused(live_server):
    signature = RequestValidator(TOKEN).compute_signature(
        live_server.url("voice/code?attempt=3"), call("1234"))
    response = await post(live_server.url("voice/code?attempt=1"), call("1234"),
                          signature=signature)
    assert response.code == 403


async def test_get_is_not_allowed(live_server):
    for path in ("voice", "voice/code"):
        response = await live_server.fetch(path)
        assert response.code == 405


@VOICE_OFF
async def test_voice_switched_off_is_not_found(live_server):
    for path in ("voice", "voice/code"):
        response = await post(live_server.url(path), call("1234"))
        assert response.code == 404


@BEHIND_BALANCER
async def test_behind_a_load_balancer_the_signature_covers_the_public_url(live_server):
    access = await forwarding(live_server)
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC_HOST}
    public = f"https://{PUBLIC_HOST}/help/voice"
    root = twiml(await post(public, call(), headers=headers, local_url=live_server.url("voice")))
    action = root.find("Gather").get("action")
    assert action == f"https://{PUBLIC_HOST}/help/voice/code?attempt=1"
    local = live_server.url(urlsplit(action).path.removeprefix("/help/") + "?attempt=1")
    root = twiml(await post(action, call(access.code), headers=headers, local_url=local))
    assert root.find("Dial").get("callerId") == CENTRAL


@BEHIND_BALANCER
async def test_behind_a_load_balancer_a_signature_over_the_local_url_is_refused(live_server):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC_HOST}
    response = await post(live_server.url("voice"), call(), headers=headers)
    assert response.code == 403
