"""The Monitor of a process in cluster mode, in Chromium: it says when live updates
from the other processes stop (Redis away) and stops saying so when they are back."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import SCREENS
from tests.browser.test_accessibility import assert_no_violations
from tests.browser.test_help_tab import LAPTOP
from tests.fixtures_cluster import Cluster


async def test_the_monitor_says_when_the_other_processes_updates_stop(
        cluster: Cluster, new_context, redis_server) -> None:
    context = await new_context(viewport=LAPTOP)
    name, _, value = cluster.b.user_cookie(cluster.operator).partition("=")
    await context.add_cookies([{"name": name, "value": value,
                                "url": f"http://127.0.0.1:{cluster.b.port}"}])
    page = await context.new_page()
    await page.goto(cluster.b.url("monitor"))
    notice = page.locator("#cluster-notice")
    await expect(page.get_by_role("button", name="Available for chat")).to_be_enabled()
    await expect(notice).to_be_hidden()
    redis_server.stop()
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("Live updates from the other servers have stopped")
    await expect(page.locator("#announcer")).to_contain_text("may be out of date here")
    await assert_no_violations(page, "the Monitor while Redis is away")
    SCREENS.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENS / "cluster-degraded.png")
    redis_server.start()
    await expect(notice).to_be_hidden(timeout=15_000)
    await expect(page.locator("#announcer")).to_contain_text(
        "Live updates from the other servers are back.")
