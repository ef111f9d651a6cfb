"""An XSS payload corpus through chat text, names, interview answers and an interview
title, rendered in real Chromium: nothing executes, everything reads as typed.

Every executable payload both calls `alert()` (a dialog) and sets `window.__xss`, so
a payload that runs is caught even if dialogs were suppressed. Pages are also
watched for page errors and console errors (a broken `<img src=x>` that got into
the DOM logs a failed load), and searched for elements a payload could inject.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from playwright.async_api import Page, expect

import server as livehelp_server
from state.config import Config
from state.interview.library import InterviewLibrary
from state.livehelp.api import interview_namespace
from tests.browser.conftest import sign_in
from tests.browser.test_monitor_chat import (
    activate,
    composer,
    entries,
    go_available,
    open_interviewee,
    open_operator,
    user_says,
)
from tests.conftest import LiveServer, serving

PAYLOADS = [
    '<script>window.__xss=1;alert("script")</script>',
    '<img src=x onerror="window.__xss=1;alert(\'img\')">',
    '"><svg onload="window.__xss=1;alert(\'svg\')">',
    "'><svg/onload=window.__xss=1;alert('svg2')>",
    '<a href="javascript:window.__xss=1;alert(\'link\')">a javascript: link</a>',
    'javascript:window.__xss=1;alert("url")',
    '</textarea></title><script>window.__xss=1;alert("close")</script>',
    '<iframe srcdoc="<script>parent.__xss=1;parent.alert(1)</script>"></iframe>',
    "{{7*7}}",
    "${7*7}",
    "{{constructor.constructor('window.__xss=1;alert(1)')()}}",
    "#{7*7} <%= 7*7 %> {% print(7*7) %}",
    "\u202eexe.live\u202c <b>not bold</b>",  # right-to-left override
    "\u200b<scr\u200bipt>alert(1)</scr\u200bipt>",  # zero-width space inside the tag
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",  # fullwidth angle brackets
]
TITLE = '<script>window.__xss=1;alert("title")</script><img src=x onerror=alert(2)> {{7*7}} ${7*7}'
TITLED = "payload_title"
# What a payload could have added to the DOM had it been parsed as markup.
INJECTED = """() => document.querySelectorAll(
    '[onerror], [onload], iframe, svg[onload], a[href^="javascript:" i], img[src="x"]').length
  + [...document.scripts].filter(s => s.text.includes('__xss')).length"""


@pytest.fixture
async def live_server(config: Config, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The app with the demo interviews plus one whose title is a payload (a temp folder:
    the library reads its folder once, at start)."""
    folder = tmp_path / "interviews"
    shutil.copytree(Path(livehelp_server.HERE) / "interviews", folder)
    (folder / f"{TITLED}.yaml").write_text(yaml.safe_dump({
        "metadata": {"title": TITLE},
        "items": [
            {"code": "set_live_help_status(availability='available', mode='help', "
                     "partner_roles='advocate')"},
            {"id": "start", "question": "A title to read", "final": True},
        ],
    }), encoding="utf-8")
    services = livehelp_server.make_services(config)
    services.interviews = InterviewLibrary(folder, api=interview_namespace())
    async with serving(services) as server:
        yield server


class Watch:
    """Dialogs, page errors and console errors of the pages it watches."""

    def __init__(self) -> None:
        self.pages: list[Page] = []
        self.events: list[str] = []
        self.pending: list[asyncio.Future] = []

    def on(self, page: Page) -> Page:
        self.pages.append(page)
        page.on("dialog", lambda dialog: self._dialog(dialog))
        page.on("pageerror", lambda error: self.events.append(f"page error: {error}"))
        page.on("console", lambda message: self._console(message))
        return page

    def _dialog(self, dialog) -> None:
        self.events.append(f"dialog: {dialog.message}")
        # The test fails anyway; dismiss so the page is not left blocked.
        self.pending.append(asyncio.ensure_future(dialog.dismiss()))

    def _console(self, message) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith(
                "/favicon.ico"):
            self.events.append(f"console: {message.text}")

    async def assert_nothing_ran(self) -> None:
        for page in self.pages:
            await page.wait_for_timeout(200)
            assert await page.evaluate("window.__xss") is None, page.url
            assert await page.evaluate(INJECTED) == 0, page.url
        assert self.events == []


async def texts(locator, count: int) -> list[str]:
    await expect(locator).to_have_count(count)
    return [text or "" for text in await locator.all_text_contents()]


async def test_chat_text_in_both_directions(live_server, new_context) -> None:
    watch = Watch()
    monitor = watch.on(await open_operator(new_context, live_server))
    user = watch.on(await open_interviewee(new_context, live_server))
    await go_available(monitor)
    await activate(user)
    for payload in PAYLOADS:
        await user_says(user, payload)
    entry = entries(monitor).first
    received = entry.locator(".chat-message.theirs .chat-text")
    assert await texts(received, len(PAYLOADS)) == PAYLOADS
    box = composer(entry)
    for payload in PAYLOADS:
        await box.fill(payload)
        await box.press("Enter")
    replies = user.locator("#lh-messages .chat-message.theirs .chat-text")
    assert await texts(replies, len(PAYLOADS)) == PAYLOADS
    await watch.assert_nothing_ran()


OPERATOR_NAME = '<img src=x onerror="window.__xss=1;alert(\'op\')">{{7*7}}'
FIRST_NAME = '"><svg onload="window.__xss=1;alert(\'first\')">${7*7}'
LAST_NAME = "<script>window.__xss=1;alert('last')</script>\u202eevil"


async def test_names_on_the_monitor_and_in_chat(live_server, new_context) -> None:
    watch = Watch()
    monitor = watch.on(await open_operator(new_context, live_server, first_name=OPERATOR_NAME))
    await live_server.add_user("named@example.org", first_name=FIRST_NAME, last_name=LAST_NAME)
    user = watch.on(await (await new_context()).new_page())
    await sign_in(user, live_server, "named@example.org")
    await expect(user.locator(".whoami")).to_contain_text("svg onload")
    await user.goto(live_server.url("interview/chat_example"))
    await user.get_by_label("Yes").check()
    await user.get_by_role("button", name="Continue").click()
    await go_available(monitor)
    await activate(user)
    entry = entries(monitor).first
    await expect(entry.locator(".entry-user")).to_have_count(1)
    assert await entry.locator(".entry-user").text_content() == f"{FIRST_NAME} {LAST_NAME}"
    await user_says(user, "hello")
    await expect(entry.locator(".chat-message.theirs .chat-text")).to_have_text("hello")
    # The box is labelled with the first word of the user's name, as text.
    box = entry.get_by_label("Message to " + FIRST_NAME.split(" ")[0], exact=True)
    await box.fill("hi")
    await box.press("Enter")
    reply = user.locator("#lh-messages .chat-message.theirs")
    await expect(reply.locator(".chat-text")).to_have_text("hi")
    assert await reply.locator(".chat-name").text_content() == OPERATOR_NAME
    await watch.assert_nothing_ran()


async def answer_fruit(page: Page, live_server, fruit: str, vegetable: str) -> None:
    """Walk the fruit demo to its review screen with these answers."""
    await page.goto(live_server.url("interview/fruit"))
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label("Fruit").fill(fruit)
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label("Vegetable").fill(vegetable)
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label("Chanterelle").check()
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Your favourites")).to_be_visible()


@pytest.mark.parametrize("pair", range(0, len(PAYLOADS), 2))
async def test_interview_answers_on_the_review_screen(live_server, new_context, pair) -> None:
    fruit, vegetable = PAYLOADS[pair], PAYLOADS[(pair + 1) % len(PAYLOADS)]
    watch = Watch()
    page = watch.on(await (await new_context()).new_page())
    await answer_fruit(page, live_server, fruit, vegetable)
    answers = page.locator(".review-answer")
    assert (await texts(answers, 3))[:2] == [fruit, vegetable]
    await watch.assert_nothing_ran()


async def test_interview_title_on_the_list_the_page_and_the_monitor(live_server,
                                                                    new_context) -> None:
    watch = Watch()
    monitor = watch.on(await open_operator(new_context, live_server))
    page = watch.on(await (await new_context()).new_page())
    await page.goto(live_server.url(""))
    link = page.locator(f'a.interview-link[href$="/{TITLED}"]')
    assert await link.text_content() == TITLE
    await link.click()
    await expect(page.locator(".interview-title")).to_have_count(1)
    assert await page.locator(".interview-title").text_content() == TITLE
    assert await page.title() == f"A title to read · {TITLE}"
    await go_available(monitor)
    title = entries(monitor).first.locator(".entry-title")
    await expect(title).to_have_count(1)
    assert await title.text_content() == TITLE
    assert "49" not in await title.text_content()
    await watch.assert_nothing_ran()
