"""axe-core (through axe-playwright-python) finds no violation on any page, in the states a
person meets: signed out, interviewing, chatting, on the Monitor, as an admin, and on the
pages that say something went wrong."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in
from tests.browser.test_monitor_chat import (
    activate,
    entries,
    go_available,
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


async def test_the_admin_pages_have_no_violations(live_server, new_context) -> None:
    await live_server.add_user("root@example.com", ("admin",))
    page = await (await new_context()).new_page()
    await sign_in(page, live_server, "root@example.com")
    for path in ("admin/users", "admin/audit"):
        await page.goto(live_server.url(path))
        await assert_no_violations(page, path)
