"""Observe, control and join in real browsers: a user context and operator contexts
(PRODUCT.md M9, M10, M11; docs/protocol.md)."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENS, sign_in
from tests.browser.test_monitor_chat import entries, open_entry

INTERVIEW = "cobrowse_demo"  # live help on from the first screen; a private field and a password
PASSWORD = "S3cret-horse-77"
REFERENCE = "REF-98765"


async def operator_page(new_context, live_server, email="op@example.com", first_name="Olga",
                        frames: list | None = None) -> Page:
    """An operator on the Monitor; with `frames`, every frame its sockets receive lands there."""
    await live_server.add_user(email, ("advocate",), first_name=first_name)
    context = await new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    if frames is not None:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
    await sign_in(page, live_server, email)
    await page.goto(live_server.url("monitor"))
    await expect(page.locator("#status-toggle")).to_be_enabled()
    return page


async def user_page(new_context, live_server, sent: list | None = None) -> Page:
    context = await new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    if sent is not None:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    await page.goto(live_server.url(f"interview/{INTERVIEW}"))
    await expect(page.locator("#question")).to_have_text("About you")
    return page


async def observe(monitor: Page, index: int = 0):
    entry = entries(monitor).nth(index)
    await open_entry(entry)
    await entry.get_by_role("button", name="Observe").click()
    view = entry.locator(".observe-view")
    await expect(view).to_be_visible()
    return entry, view


async def to_secrets(user: Page) -> None:
    await user.get_by_label("Your first name").fill("Ann")
    await user.get_by_role("button", name="Continue").click()
    await user.get_by_label("Renting").check()
    await user.get_by_role("radio", name="No").check()
    await user.get_by_role("button", name="Continue").click()
    await expect(user.locator("#question")).to_have_text("Protect your application")


async def test_typing_and_screen_changes_appear_live(live_server, new_context) -> None:
    monitor = await operator_page(new_context, live_server)
    user = await user_page(new_context, live_server)
    _, view = await observe(monitor)
    await expect(view.locator(".observe-question")).to_have_text("About you")
    await expect(user.locator("#lh-cobrowse-notice")).to_have_text(
        re.compile("An operator is viewing your screen"))

    await user.get_by_label("Your first name").press_sequentially("Ann <b>")
    await expect(view.get_by_label("Your first name")).to_have_value("Ann <b>", timeout=2000)
    await expect(view.get_by_label("Your first name")).to_be_disabled()
    await user.get_by_label("Your situation").fill("Two rooms, one window")
    await expect(view.get_by_label("Your situation")).to_have_value("Two rooms, one window")
    SCREENS.mkdir(exist_ok=True)
    await monitor.screenshot(path=str(SCREENS / "monitor-observe.png"), full_page=True)

    await user.get_by_role("button", name="Continue").click()
    await expect(view.locator(".observe-question")).to_have_text("Your household")
    await user.get_by_label("Owner").check()
    await expect(view.get_by_label("Owner")).to_be_checked()
    await user.get_by_label("Children").check()
    await expect(view.get_by_label("Children")).to_be_checked()

    await view.get_by_role("button", name="Stop observing").click()
    await expect(view).to_be_hidden()
    await expect(user.locator("#lh-cobrowse-notice")).to_be_hidden()


async def test_private_values_never_reach_the_operator(live_server, new_context) -> None:
    frames: list = []
    sent: list = []
    monitor = await operator_page(new_context, live_server, frames=frames)
    user = await user_page(new_context, live_server, sent=sent)
    await to_secrets(user)
    entry, view = await observe(monitor)
    await expect(view.locator(".observe-question")).to_have_text("Protect your application")
    await user.get_by_label("Reference number").fill(REFERENCE)
    await user.get_by_label("Password").press_sequentially(PASSWORD)
    await entry.get_by_role("button", name="Take control").click()
    await expect(view.get_by_label("Password")).to_have_value("••••••")
    await expect(view.get_by_label("Password")).to_be_disabled()
    await expect(view.get_by_label("Reference number")).to_have_value("••••••")
    await expect(view.get_by_label("Reference number")).to_be_disabled()
    await view.get_by_role("button", name="Continue").click()
    await expect(view.locator(".observe-question")).to_have_text("Check your answers")
    await expect(view.locator(".review-row", has_text="Reference number")).to_contain_text("Hidden")
    record = await live_server.services.store.get_session(
        await user.locator("main").get_attribute("data-session"))
    assert record.answers["password"] == PASSWORD  # the user's submit carried it, to the server only
    for frame in frames + sent:
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        assert PASSWORD not in text and REFERENCE not in text
    assert any("observe_screen" in str(f) for f in frames)


async def test_control_round_trip_saves_as_the_user(live_server, new_context) -> None:
    monitor = await operator_page(new_context, live_server)
    user = await user_page(new_context, live_server)
    entry, view = await observe(monitor)
    await entry.get_by_role("button", name="Take control").click()
    notice = user.locator("#lh-cobrowse-notice")
    await expect(notice).to_have_text(re.compile("An operator is controlling your screen"))
    await expect(user.get_by_role("button", name="Continue")).to_be_disabled()
    await view.get_by_label("Your first name").press_sequentially("Olivia")
    await expect(user.get_by_label("Your first name")).to_have_value("Olivia", timeout=2000)
    SCREENS.mkdir(exist_ok=True)
    await user.screenshot(path=str(SCREENS / "user-controlled.png"), full_page=True)

    session_id = await user.locator("main").get_attribute("data-session")
    await view.get_by_role("button", name="Continue").click()
    await expect(user.locator("#question")).to_have_text("Your household")
    await expect(view.locator(".observe-question")).to_have_text("Your household")
    record = await live_server.services.store.get_session(session_id)
    assert record.answers["first_name"] == "Olivia"
    assert "about" in record.progress["done"]
    await expect(user.get_by_role("button", name="Continue")).to_be_disabled()

    await view.get_by_role("radio", name="Renting").check()
    await expect(user.get_by_label("Renting")).to_be_checked()
    await view.get_by_role("button", name="Stop controlling").click()
    await expect(notice).to_have_text(re.compile("You have control of your screen again"))
    await expect(user.get_by_role("button", name="Continue")).to_be_enabled()
    await expect(view.get_by_label("Renting")).to_be_disabled()
    audit = [e.action for e in await live_server.services.store.list_audit()]
    assert "observe" in audit and "control" in audit


async def test_one_controller_and_release_on_disconnect(live_server, new_context) -> None:
    first = await operator_page(new_context, live_server)
    second = await operator_page(new_context, live_server, "sam@example.com", "Sam")
    user = await user_page(new_context, live_server)
    first_entry, _ = await observe(first)
    await first_entry.get_by_role("button", name="Take control").click()
    await expect(user.locator("#lh-cobrowse-notice")).to_have_text(re.compile("controlling"))
    second_entry, second_view = await observe(second)
    await expect(second_view.locator(".observe-status")).to_have_text("Controlled by Olga.")
    await expect(second_entry.get_by_role("button", name="Take control")).to_be_disabled()
    await second.evaluate("""() => window.livehelpMonitor.send(
        {type: "control", session: document.querySelector("#sessions > li.entry").dataset.id})""")
    await expect(second.locator("#monitor-error")).to_contain_text("Olga is controlling")

    await first.context.close()
    await expect(user.locator("#lh-cobrowse-notice")).to_have_text(
        re.compile("You have control of your screen again"), timeout=2000)
    await expect(user.get_by_role("button", name="Continue")).to_be_enabled()
    take = second_entry.get_by_role("button", name="Take control")
    await expect(take).to_be_enabled()
    await take.click()
    await expect(second_view.get_by_role("button", name="Stop controlling")).to_be_visible()


async def test_join_opens_a_tab_and_saves_the_operators_answers(live_server, new_context) -> None:
    monitor = await operator_page(new_context, live_server)
    context = await new_context()
    user = await context.new_page()
    await user.goto(live_server.url("interview/fruit"))
    await user.get_by_role("button", name="Continue").click()
    await user.get_by_label("Fruit").fill("Apple")
    await user.get_by_role("button", name="Continue").click()
    await expect(user.locator("#question")).to_have_text("What is your favorite vegetable?")

    await open_entry(entries(monitor).first)
    join = entries(monitor).first.get_by_role("button", name="Join")
    await expect(entries(monitor).first.locator("form.join-form")).to_have_attribute(
        "target", "_blank")
    assert await live_server.services.store.list_audit() == []
    async with monitor.context.expect_page() as opened:
        await join.click()
    tab = await opened.value
    await expect(tab.locator("#question")).to_have_text("Summary of the user's answers so far")
    await expect(tab.locator(".review")).to_contain_text("The favorite fruit was Apple.")
    await tab.get_by_role("button", name="Change Change Fruit").click()
    await tab.get_by_label("Fruit").fill("Mango")
    await tab.get_by_role("button", name="Continue").click()
    await expect(tab.locator(".review")).to_contain_text("The favorite fruit was Mango.")

    session_id = await user.locator("main").get_attribute("data-session")
    record = await live_server.services.store.get_session(session_id)
    assert record.answers["fruit"] == "Mango"
    await user.get_by_label("Vegetable").fill("Carrot")
    await user.get_by_role("button", name="Continue").click()
    await user.get_by_label("Chanterelle").check()
    await user.get_by_role("button", name="Continue").click()
    await expect(user.locator(".review")).to_contain_text("Mango")
    assert [e.action for e in await live_server.services.store.list_audit()] == ["join"]

    # A share link followed by an operator asks first (a GET must not join or audit).
    await tab.goto(live_server.url(f"share/{session_id}"))
    await expect(tab.get_by_role("heading", name="Join this session?")).to_be_visible()
    await tab.screenshot(path=str(SCREENS / "share-confirm.png"), full_page=True)
    assert len(await live_server.services.store.list_audit()) == 1
    await tab.get_by_role("button", name="Join the session").click()
    await expect(tab.locator("#question")).to_have_text("Summary of the user's answers so far")
    assert len(await live_server.services.store.list_audit()) == 2
