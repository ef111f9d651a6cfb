"""Telephone call forwarding end to end: Monitor → user's page → a signed Twilio call
to /voice → the operator's phone, and the user's code and icon disappear (P1–P5)."""

from __future__ import annotations

import re
from urllib.parse import urlencode
from xml.etree import ElementTree

from playwright.async_api import expect
from twilio.request_validator import RequestValidator

from tests.browser.test_monitor_chat import entries, open_entry, open_interviewee, open_operator

TOKEN = "test-auth-token"
CENTRAL = "+12762410114"
OPERATOR_PHONE = "+12025550143"


async def signed_post(live_server, path: str, params: dict):
    url = live_server.url(path)
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    return await live_server.fetch(path, "POST", urlencode(params),
                                   headers={"X-Twilio-Signature": signature})


async def test_user_calls_with_the_code_and_reaches_the_operator(live_server, new_context):
    twilio = live_server.services.config.twilio
    twilio.voice, twilio.number, twilio.auth_token = True, CENTRAL, TOKEN
    monitor = await open_operator(new_context, live_server)
    user = await open_interviewee(new_context, live_server)
    await monitor.get_by_role("button", name=re.compile("^Phone: ")).click()
    await monitor.get_by_label(re.compile("Your phone number")).fill(OPERATOR_PHONE)
    await monitor.get_by_role("button", name="Save number").click()
    await expect(monitor.locator("#phone-message")).to_have_text("Saved.")
    entry = entries(monitor).first
    await open_entry(entry)
    await entry.get_by_role("button", name="Forward calls").click()

    phone_icon = user.get_by_role("button", name="Call an operator")
    await expect(phone_icon).to_be_visible(timeout=2000)
    await phone_icon.click()
    instructions = user.locator("#lh-phone")
    await expect(instructions).to_contain_text(re.compile(r"enter code \d{4}"))
    code = re.search(r"code (\d{4})", await instructions.inner_text()).group(1)

    call = {"CallSid": "CA0001", "From": "+14155550100", "To": CENTRAL}
    greeting = ElementTree.fromstring((await signed_post(live_server, "voice", call)).body)
    assert greeting.find("Gather").get("numDigits") == "4"
    answer = await signed_post(live_server, "voice/code?attempt=1", {**call, "Digits": code})
    dial = ElementTree.fromstring(answer.body).find("Dial")
    assert dial.get("callerId") == CENTRAL
    assert dial.find("Number").text == OPERATOR_PHONE

    await expect(phone_icon).to_be_hidden(timeout=2000)
    await expect(instructions).to_be_hidden()
    await expect(entry).to_contain_text("Call connected")
    assert OPERATOR_PHONE not in await user.content()


async def test_unsigned_call_is_refused(live_server):
    twilio = live_server.services.config.twilio
    twilio.voice, twilio.number, twilio.auth_token = True, CENTRAL, TOKEN
    response = await live_server.fetch("voice", "POST", urlencode({"CallSid": "CA1"}))
    assert response.code == 403
