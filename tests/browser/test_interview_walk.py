"""A demo interview walked to its end in Chromium, with a reload half way."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENS


async def heading(page: Page, text: str) -> None:
    await expect(page.get_by_role("heading", level=1)).to_have_text(text)


async def test_walk_the_family_support_interview_to_its_end(new_context, live_server) -> None:
    SCREENS.mkdir(exist_ok=True)
    context = await new_context(viewport={"width": 420, "height": 900})
    page = await context.new_page()
    await page.goto(live_server.url("interview/chat_example"))
    await heading(page, "Before we begin")
    await page.get_by_label("Yes").check()
    await page.get_by_role("button", name="Continue").click()

    await heading(page, "What types of support are you seeking?")
    await page.get_by_label("Child Support").check()
    await page.get_by_role("button", name="Continue").click()

    await heading(page, "About you")
    await page.get_by_label("Your first name").fill("Ann")
    await page.get_by_role("button", name="Continue").click()
    # The date was left empty: same screen, the error beside it, the name kept.
    await expect(page.locator("#error-birth_date")).to_have_text("Please fill this in.")
    await expect(page.get_by_label("Your first name")).to_have_value("Ann")
    await expect(page.get_by_label("Date of birth")).to_be_focused()
    await page.screenshot(path=str(SCREENS / "interview-error.png"), full_page=True)
    await page.get_by_label("Date of birth").fill("1990-04-05")
    await page.get_by_role("button", name="Continue").click()

    await heading(page, "How many children do you support?")
    await page.reload()  # reloading shows the same screen
    await heading(page, "How many children do you support?")
    await page.get_by_label("Number of children").fill("2")
    await page.get_by_role("button", name="Continue").click()

    await heading(page, "Tell us about your situation")
    await page.get_by_label("Your situation").fill("Separated since <May>.")
    await page.get_by_role("button", name="Continue").click()
    await heading(page, "Protect your answers")
    await page.get_by_label("Password").fill("a long pass phrase")
    await page.get_by_role("button", name="Continue").click()

    await heading(page, "Check your answers")
    await expect(page.locator(".review")).to_contain_text("Separated since <May>.")
    await page.get_by_role("button", name="Change Number of children").click()
    await heading(page, "How many children do you support?")
    await expect(page.get_by_label("Number of children")).to_have_value("2")
    await page.get_by_label("Number of children").fill("3")
    await page.get_by_role("button", name="Continue").click()
    await heading(page, "Check your answers")
    await expect(page.locator(".review")).to_contain_text("3")
    await page.screenshot(path=str(SCREENS / "interview-review.png"), full_page=True)
    await page.get_by_role("button", name="Finish").click()

    await heading(page, "Thank you, Ann")
    await page.get_by_role("tab", name="Help").click()
    await expect(page.locator("#help-panel")).to_be_visible()
    await page.get_by_role("tab", name="Help").press("ArrowLeft")
    await expect(page.get_by_role("tab", name="Interview")).to_be_focused()
    await expect(page.locator("#interview-panel")).to_be_visible()
    await page.screenshot(path=str(SCREENS / "interview-end.png"), full_page=True)
