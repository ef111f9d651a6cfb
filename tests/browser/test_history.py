"""Transcripts and the history page in Chromium: an interviewee prints and downloads
their conversation from the Help tab (names as they saw them, times in their zone,
printed without the menu or buttons); an operator opens the transcript from a Monitor
entry, finds a message on the history page (highlighted, escaped) and opens it there.
Screenshots go to tests/browser/screens/history-*.png."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENS, sign_in
from tests.browser.history_seed import seed
from tests.browser.test_accessibility import assert_no_violations
from tests.browser.test_monitor_chat import (
    activate,
    composer,
    entries,
    go_available,
    open_entry,
    open_operator,
    user_says,
)

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
PARIS = "Europe/Paris"


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SCREENS / f"history-{name}.png"), full_page=True)


async def test_an_interviewee_prints_and_downloads_the_conversation(
        live_server, new_context) -> None:
    monitor = await open_operator(new_context, live_server, viewport=LAPTOP)
    user = await interviewee_in(new_context, live_server, PARIS)
    context = user.context
    await go_available(monitor)
    await activate(user)
    links = user.locator("#lh-transcript")
    await expect(links).to_be_hidden()  # nothing said yet: nothing to print
    await user_says(user, "Hello, I need help with <b>rent</b>")
    entry = entries(monitor).first
    await open_entry(entry)
    await composer(entry).fill("Happy to help.\nWhat is the rent?")
    await composer(entry).press("Enter")
    await expect(user.locator("#lh-messages .chat-message.theirs")).to_have_count(1)
    await expect(links).to_be_visible()
    await shot(user, "help-tab-links-390")

    async with user.expect_download() as waiting:
        await user.get_by_role("link", name="Download conversation").click()
    download = await waiting.value
    assert re.fullmatch(r"livehelp-chat_example-\d{4}-\d\d-\d\d\.txt", download.suggested_filename)
    text = (await download.path()).read_text(encoding="utf-8")
    assert "Conversation: Family support questionnaire\nTimes: Europe/Paris\n" in text
    assert re.search(r"\] You: Hello, I need help with <b>rent</b>\n", text)
    assert re.search(r"\] Olga: Happy to help.\n    What is the rent\?\n", text)

    async with context.expect_page() as opening:
        await user.get_by_role("link", name="Print conversation").click()
    printable = await opening.value
    await printable.wait_for_load_state()
    assert "tz=Europe%2FParis" in printable.url and "print=1" in printable.url
    await expect(printable.locator("h1")).to_have_text("Family support questionnaire")
    names = printable.locator(".line-name")
    await expect(names).to_have_text(["You", "Olga"])
    await expect(printable.locator(".line-text").first).to_have_text(
        "Hello, I need help with <b>rent</b>")
    # The time the page shows is the one this browser (in Paris) reads for the message.
    stamp = await printable.locator(".line time").first.get_attribute("datetime")
    shown = await printable.locator(".line time").first.text_content()
    local = await printable.evaluate(
        "iso => new Date(iso).toLocaleTimeString('en-GB', {hour: '2-digit', minute: '2-digit',"
        " timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone})", stamp)
    assert shown == local and stamp.endswith(("+01:00", "+02:00"))
    await assert_no_violations(printable, "the interviewee's transcript")
    await shot(printable, "transcript-screen-390")
    await printable.emulate_media(media="print")
    await expect(printable.locator(".topbar")).to_be_hidden()
    await expect(printable.get_by_role("button", name="Print")).to_be_hidden()
    await expect(printable.locator(".transcript-actions")).to_be_hidden()
    await expect(names.first).to_be_visible()
    await shot(printable, "transcript-print-390")

    # The operator's record of the same conversation, from the entry's panel.
    await shot(monitor, "monitor-entry-1366")
    async with monitor.context.expect_page() as opening:
        await entry.get_by_role("link", name="Transcript").click()
    record = await opening.value
    await expect(record.locator(".transcript-facts")).to_contain_text(
        "Live: the session is on the Monitor.")
    await expect(record.locator(".line-name")).to_have_text([re.compile(r"^Visitor "), "Olga"])
    await expect(record.locator(".line-role").nth(1)).to_have_text("(operator, op@example.com)")
    await assert_no_violations(record, "the operators' transcript")
    await shot(record, "operator-transcript-1366")


async def interviewee_in(new_context, live_server, zone: str) -> Page:
    """A phone in `zone` that agrees to monitoring (tests/browser/test_monitor_chat.py's
    open_interviewee, with a time zone)."""
    page = await (await new_context(viewport=PHONE, timezone_id=zone)).new_page()
    await page.goto(live_server.url("interview/chat_example"))
    await page.get_by_label("Yes").check()
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#lh-chat-icon")).to_be_visible()
    return page


async def test_an_operator_finds_a_message_and_opens_it(live_server, new_context) -> None:
    await seed(live_server)
    await live_server.add_user("olga@example.com", ("advocate",), first_name="Olga",
                               last_name="Krause")
    page = await (await new_context(viewport=LAPTOP, timezone_id=PARIS)).new_page()
    await sign_in(page, live_server, "olga@example.com")
    await page.get_by_role("link", name="History").click()
    await expect(page).to_have_url(re.compile(r"tz=Europe%2FParis"))  # the page's zone added
    await expect(page.locator(".conversation")).to_have_count(12)
    await assert_no_violations(page, "history listing")
    await shot(page, "listing-1366")

    await page.get_by_label("Words in a message").fill("deposit")
    await page.get_by_label("Interview", exact=True).select_option(label="Family support questionnaire")
    await page.get_by_role("button", name="Search").click()
    hits = page.locator(".hit")
    await expect(hits).to_have_count(2)
    await expect(hits.first.locator("mark")).to_have_text(["deposit", "deposit"])
    await expect(hits.nth(1).locator(".hit-text")).to_have_text(
        "<script>alert('x')</script> my landlord kept the deposit")
    assert await page.evaluate("() => window.__xss === undefined")
    await expect(page.get_by_label("Words in a message")).to_have_value("deposit")
    await assert_no_violations(page, "history search hits")
    await shot(page, "search-hit-1366")

    await hits.nth(1).get_by_role("link", name=re.compile("^Open the transcript")).click()
    target = page.locator(".line:target")
    await expect(target.locator(".line-text")).to_have_text(
        "<script>alert('x')</script> my landlord kept the deposit")
    await expect(page.locator(".line-name")).to_have_text(["Ada", "Olga Krause", "Ada"])
    await expect(page.locator(".transcript-facts")).to_contain_text("Not on the Monitor")
    await assert_no_violations(page, "operators' transcript from a hit")
    await shot(page, "hit-opened-1366")

    await page.set_viewport_size(PHONE)
    await page.go_back()
    await page.get_by_label("From (day)").fill("2030-01-02")
    await page.get_by_label("To (day, included)").fill("2030-01-01")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("alert")).to_contain_text("“From” (2030-01-02) is after “To”")
    await assert_no_violations(page, "history form refused")
    await shot(page, "bad-dates-390")
