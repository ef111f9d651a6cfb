"""Browser fixtures: Playwright's async API driving Debian's Chromium (no download).

`browser` comes from pytest-playwright-asyncio; `new_context` gives a fresh,
isolated browser profile (one per person in a test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Screenshots the browser tests take for people to look at (git-ignored).
SCREENS = Path(__file__).parent / "screens"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch Debian's Chromium headless with flags that keep it off the network."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


async def sign_in(page, live_server, email: str, password: str = "correct horse battery") -> None:
    """Sign in through the real login form."""
    await page.goto(live_server.url("login"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
