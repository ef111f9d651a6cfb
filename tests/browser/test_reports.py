"""The reports page in Chromium with real data: a month of help conversations, messages
left and ratings seeded through the store API, then the page opened as an admin. Every
chart is drawn (a canvas Chart.js painted), each has its summary, its table and a CSV
download; the date form refuses a bad range in words."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, expect

from state.store.base import ChatMessage, LeftMessage, Rating, SessionRecord
from tests.browser.conftest import SCREENS, sign_in
from tests.browser.test_help_tab import LAPTOP, PHONE

DAYS = 30
OPERATORS = (("olga@example.org", "Olga", "Ortiz"), ("bob@example.org", "Bob", "Baker"),
             ("chloe@example.org", "Chloé", "Cartier"))
CHARTS = ("conversations", "waiting", "first-response", "operators", "unanswered",
          "messages-left", "satisfaction")


def said(conversation: str, moment: datetime, operator: tuple | None = None) -> ChatMessage:
    email, first, last = operator or (None, None, None)
    return ChatMessage(conversation=conversation, session_id=conversation.split("|")[0],
                       sender_key=f"u:{email}" if email else "b:x",
                       sender_role="operator" if email else "user", text="words",
                       client_id=f"c{moment.timestamp()}", sender_email=email,
                       sender_first_name=first, sender_last_name=last, time=moment)


async def seed_month(live_server) -> int:
    """Some conversations each of the last DAYS days, as chat would store them; how many."""
    store = live_server.services.store
    for email, first, last in OPERATORS:
        await live_server.add_user(email, ("advocate",), first_name=first, last_name=last)
    rng = random.Random(16)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    count = 0
    for back in range(DAYS):
        day = today - timedelta(days=back)
        for number in range(rng.randint(2, 7)):
            count += 1
            session = f"s{back:02d}{number}"
            conversation = f"{session}|b:{number}"
            await store.save_session(SessionRecord(id=session, interview="chat_example"))
            start = day + timedelta(hours=rng.randint(0, 9), minutes=rng.randint(0, 59))
            await store.add_message(said(conversation, start))
            if rng.random() < 0.15:
                continue  # left before an answer
            helper = rng.choice(OPERATORS)
            reply = start + timedelta(seconds=rng.randint(5, 600))
            await store.add_message(said(conversation, reply, helper))
            await store.add_message(said(conversation, reply + timedelta(seconds=40)))
            if rng.random() < 0.6:
                await store.add_rating(Rating(conversation, session, "chat_example",
                                              rng.choice((3, 4, 4, 5, 5)), created=reply
                                              + timedelta(minutes=5)))
        if rng.random() < 0.5:
            created = day + timedelta(hours=8)
            handled = created + timedelta(hours=3) if rng.random() < 0.7 else None
            await store.add_left_message(LeftMessage(
                f"left{back}", "chat_example", f"left{back}|b:x", "Please call me",
                id=f"left-{back}", created=created, handled_by="olga@example.org" if handled else None,
                handled_at=handled))
    return count


async def open_reports(new_context, live_server, viewport=LAPTOP) -> Page:
    await live_server.add_user("root@example.org", ("admin",))
    page = await (await new_context(viewport=viewport)).new_page()
    await sign_in(page, live_server, "root@example.org")
    await page.get_by_role("link", name="Reports").click()  # from the menu
    # The page adds the browser's zone to its address (transcript.js) and loads again.
    await page.wait_for_url(re.compile(r"[?&]tz="))
    await expect(page.get_by_role("heading", name="Reports", level=1)).to_be_visible()
    return page


async def test_the_reports_page_draws_every_chart_from_the_store(live_server, new_context):
    conversations = await seed_month(live_server)
    page = await open_reports(new_context, live_server)
    # The address gained the browser's zone (days are the reader's); here, UTC.
    await page.goto(live_server.url("reports?tz=UTC"))
    for chart_id in CHARTS:
        card = page.locator(f"#chart-{chart_id}")
        await expect(card.locator("canvas")).to_have_attribute("data-drawn", "1")
        await expect(card.locator(".report-summary")).not_to_be_empty()
        await expect(card.locator("table")).to_have_count(1)
        await expect(card.get_by_role("link", name="Download CSV")).to_be_visible()
    summary = page.locator("#chart-conversations .report-summary")
    await expect(summary).to_contain_text(f"{conversations} help conversations in 30 days")
    # Chart.js painted something: the canvas is not blank.
    painted = await page.evaluate("""() => {
      const canvas = document.querySelector("#canvas-waiting");
      const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked += 1;
      return inked;
    }""")
    assert painted > 1000
    await page.screenshot(path=str(SCREENS / "reports-laptop.png"), full_page=True)

    # The numbers open from the keyboard; the operators appear by their names.
    numbers = page.locator("#chart-operators summary")
    await numbers.focus()
    await page.keyboard.press("Enter")
    table = page.locator("#chart-operators table")
    await expect(table).to_be_visible()
    await expect(table.locator("tbody tr")).to_have_count(3)
    await expect(table).to_contain_text("Olga Ortiz")
    await page.locator("#chart-operators").screenshot(path=str(SCREENS / "reports-operators.png"))

    async with page.expect_download() as download:
        await page.locator("#chart-satisfaction").get_by_role("link", name="Download CSV").click()
    saved = await (await download.value).path()
    lines = Path(saved).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Day,Ratings,Mean score" and len(lines) == 1 + DAYS

    await page.set_viewport_size(PHONE)
    await page.locator("#chart-waiting").screenshot(path=str(SCREENS / "reports-phone-chart.png"))
    await page.screenshot(path=str(SCREENS / "reports-phone.png"))


async def test_a_bad_range_is_refused_in_words_and_nothing_drawn(live_server, new_context):
    page = await open_reports(new_context, live_server)
    await page.get_by_label("From").fill("2026-05-10")
    await page.get_by_label("To (included)").fill("2026-05-01")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Cannot show these dates: “From” (2026-05-10) is after “To” (2026-05-01): no day is "
        "in between. Swap them.")
    await expect(page.get_by_label("From")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("canvas")).to_have_count(0)
