"""axe-core (through axe-playwright-python) finds no violation on any page, in the states a
person meets: signed out, interviewing, chatting, on the Monitor, as an admin, and on the
pages that say something went wrong."""

from __future__ import annotations

from urllib.parse import quote

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in
from tests.browser.history_seed import seed
from tests.browser.monitor_visitors import LAPTOP, PHONE, Visitor
from tests.browser.test_monitor_chat import (
    activate,
    entries,
    go_available,
    open_entry,
    open_interviewee,
    open_operator,
    user_says,
)

AXE = Axe()


async def assert_no_violations(page: Page, what: str) -> None:
    results = await AXE.run(page)
    violations = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                  for v in results.response["violations"]]
    assert violations == [], f"{what}: {violations}"


async def test_the_public_pages_have_no_violations(live_server, new_context) -> None:
    page = await (await new_context()).new_page()
    for path in ("", "login", "register", "interview/fruit", "no/such/page"):
        await page.goto(live_server.url(path))
        await assert_no_violations(page, path or "/")


async def test_chatting_on_both_sides_has_no_violations(live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server)
    await assert_no_violations(monitor, "empty Monitor")
    user = await open_interviewee(new_context, live_server)
    await assert_no_violations(user, "interview with live help")
    await go_available(monitor)  # its role appears once a session asks for it
    await activate(user)
    await user_says(user, "Hello, I need help")
    await expect(entries(monitor).first.locator(".chat-message")).to_have_count(1)
    await assert_no_violations(user, "Help tab while chatting")
    await assert_no_violations(monitor, "Monitor with a chat")


async def test_the_monitor_console_has_no_violations_in_any_state(live_server, new_context) -> None:
    live_server.services.config.twilio.voice = True
    live_server.services.config.twilio.number = "+12762410114"
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    await assert_no_violations(monitor, "empty Monitor")
    visitors = [await Visitor.start(live_server, screen="About you") for _ in range(3)]
    await expect(entries(monitor)).to_have_count(3)
    await assert_no_violations(monitor, "Monitor with 3 sessions")
    await go_available(monitor)
    await visitors[0].activate()
    await visitors[0].says("Hello, is anyone there?")
    await visitors[1].activate()
    await visitors[1].says("I have a question")
    await expect(entries(monitor).locator(".chat-message")).to_have_count(2)
    await open_entry(entries(monitor).nth(2))  # a closed one too: no chat, its actions
    await assert_no_violations(monitor, "Monitor with open chats")
    await monitor.locator("#roles-button").click()
    await assert_no_violations(monitor, "roles panel open")
    await monitor.keyboard.press("Escape")
    await monitor.get_by_role("button", name="Phone: none · Change").click()
    await monitor.get_by_role("button", name="Save number").click()  # an empty number: removed
    await assert_no_violations(monitor, "phone panel open")
    await monitor.keyboard.press("Escape")
    await monitor.get_by_role("button", name="Keyboard shortcuts").click()
    await assert_no_violations(monitor, "keyboard shortcuts open")
    await monitor.keyboard.press("Escape")
    await monitor.get_by_role("button", name="Unread", exact=True).click()
    await monitor.get_by_role("button", name="Waiting", exact=True).click()
    await assert_no_violations(monitor, "filters on")
    await monitor.set_viewport_size(PHONE)
    await assert_no_violations(monitor, "Monitor on a phone")


async def test_the_admin_pages_have_no_violations(live_server, new_context) -> None:
    await live_server.add_user("root@example.com", ("admin",))
    page = await (await new_context()).new_page()
    await sign_in(page, live_server, "root@example.com")
    for path in ("admin/users", "admin/audit", "admin/replies"):
        await page.goto(live_server.url(path))
        await assert_no_violations(page, path)


async def test_the_history_and_transcript_pages_have_no_violations(live_server, new_context) -> None:
    conversation = await seed(live_server)
    await live_server.add_user("op@example.com", ("advocate",))
    page = await (await new_context()).new_page()
    await sign_in(page, live_server, "op@example.com")
    # Each address names its zone, so no page replaces itself while axe reads it.
    for path in ("history?tz=UTC", "history?tz=UTC&q=deposit", "history?tz=UTC&to=someday",
                 f"history/{quote(conversation, safe='')}?tz=UTC"):
        await page.goto(live_server.url(path))
        await assert_no_violations(page, path)


async def test_the_reports_page_and_the_rating_prompt_have_no_violations(
        live_server, new_context) -> None:
    # Imported here: both modules import assert_no_violations from this one.
    from tests.browser.test_help_tab import Operator
    from tests.browser.test_reports import open_reports, seed_month

    await seed_month(live_server)
    page = await open_reports(new_context, live_server)
    await page.goto(live_server.url("reports?tz=UTC"))
    await expect(page.locator("canvas[data-drawn]")).to_have_count(7)
    await page.locator("#chart-waiting summary").click()  # a table open too
    await assert_no_violations(page, "reports")
    await page.goto(live_server.url("reports?tz=UTC&from=2026-05-10&to=2026-05-01"))
    await assert_no_violations(page, "reports with a bad range")

    olga = await Operator.connect(live_server, available=True)
    user = await open_interviewee(new_context, live_server)
    await activate(user)
    await user_says(user, "Hello")
    await olga.got("Hello")
    await olga.say("Hello, how can I help?")
    await olga.send(type="close_chat", session=olga.key())
    await expect(user.get_by_role("form", name="Rate this chat")).to_be_visible()
    await user.locator("#lh-rate-send").click()  # no score chosen: the words under the choices
    await expect(user.locator("#lh-rate-score-error")).not_to_be_empty()
    await assert_no_violations(user, "Help tab offering a rating")
    await olga.close()
