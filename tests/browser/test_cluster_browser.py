"""The cluster (tests/fixtures_cluster.py) in Chromium, with the interviewee and the
operator on different processes: the interviewee's page goes through nginx, which sends
its session to a home process; the operator's Monitor is opened directly on the other
process, whose commands run at the home (handlers/home_monitor.py) and which sees the
home's events over Redis. Help chat both ways; the home killed mid-chat (the page
reconnects through nginx to the survivor, nothing lost or doubled); observe, control
and block from the other process (issue 17, "Proof")."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass

from playwright.async_api import Page, expect

from bench.common import LiveHelpProcess
from tests.browser.conftest import SCREENS
from tests.browser.test_accessibility import assert_no_violations
from tests.browser.test_cobrowse import observe
from tests.browser.test_help_tab import LAPTOP, PHONE
from tests.browser.test_monitor_chat import composer, entries, open_entry, open_interviewee, toggle
from tests.browser.test_resend import activate, conversation_of, say
from tests.cluster_processes import metrics
from tests.fixtures_cluster import Cluster
from tests.test_cluster_scenarios import stored_texts

# The seeded operator (tests/fixtures_cluster.py: available, serving "advocate").
OPERATOR_NAME = "Op0"
# Reconnecting waits out the socket's backoff, and the survivor must first find the
# home dead (`dead after seconds`) for the Monitor to say "offline".
SETTLE_MS = 20_000
# Holds back the page's reconnecting (as if its network came back later) until the test
# lets it go, so that what the page and the Monitor show while the page is away is seen
# for sure (tests/browser/test_restart.py does the same).
HOLD = """() => {
  const live = window.livehelpUserChat.socket;
  const connect = live.connect.bind(live);
  window.held = true;
  live.connect = () => {
    if (window.held) live.timer = setTimeout(() => live.connect(), 50);
    else connect();
  };
}"""


@dataclass
class ThroughNginx:
    """Addresses through the cluster's nginx (what open_interviewee asks of a server)."""

    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"


async def homes(cluster: Cluster) -> tuple[LiveHelpProcess, LiveHelpProcess]:
    """(the process holding the one interviewee socket, the other): the one whose
    /metrics counts a client. Called once the page's socket has had its `state`."""
    counts = [(await metrics(process.port)).get("livehelp_clients", 0)
              for process in (cluster.a, cluster.b)]
    assert sorted(counts) == [0, 1], counts
    return (cluster.a, cluster.b) if counts[0] == 1 else (cluster.b, cluster.a)


async def open_monitor(cluster: Cluster, new_context, process: LiveHelpProcess) -> Page:
    """The seeded operator's Monitor, directly on `process` (its sign-in cookie)."""
    context = await new_context(viewport=LAPTOP)
    name, _, value = process.user_cookie(cluster.operator).partition("=")
    await context.add_cookies([{"name": name, "value": value,
                                "url": f"http://127.0.0.1:{process.port}"}])
    return await monitor_in(context, process)


async def monitor_in(context, process: LiveHelpProcess) -> Page:
    """A Monitor page on `process` in a context already signed in. Cookies do not tell
    ports apart, so one operator's context opens a Monitor on each process."""
    page = await context.new_page()
    await page.goto(process.url("monitor"))
    await expect(page.get_by_role("button", name="Available for chat", exact=True)).to_be_enabled()
    return page


async def cobrowsing(cluster: Cluster, new_context) -> tuple[Page, Page]:
    """The cobrowse demo's first screen through nginx, and the operator's Monitor on the
    process that is not the session's home. (user, Monitor)."""
    user = await (await new_context(viewport=LAPTOP)).new_page()
    await user.goto(ThroughNginx(cluster.nginx.port).url("interview/cobrowse_demo"))
    await expect(user.locator("#question")).to_have_text("About you")
    await expect(user.locator("#lh-partners")).not_to_have_text("Connecting…")
    _, other = await homes(cluster)
    return user, await open_monitor(cluster, new_context, other)


async def chatting(cluster: Cluster, new_context) -> tuple[Page, Page, LiveHelpProcess,
                                                            LiveHelpProcess]:
    """An interviewee (phone size) through nginx with chat on, answered by the operator
    whose Monitor is on the process that is not the session's home. (user, Monitor,
    home, other)."""
    user = await open_interviewee(new_context, ThroughNginx(cluster.nginx.port), viewport=PHONE)
    await expect(user.locator("#lh-partners")).not_to_have_text("Connecting…")
    home, other = await homes(cluster)
    monitor = await open_monitor(cluster, new_context, other)
    # The home learnt over Redis that the operator on the other process is available.
    await expect(user.locator("#lh-partners")).to_have_text("1 operator standing by.")
    await activate(user)
    entry = entries(monitor).first
    await expect(entry.locator(".entry-marker")).to_have_text("Mine")
    await expect(toggle(entry)).to_have_attribute("aria-expanded", "true")
    return user, monitor, home, other


async def test_help_chat_both_ways_with_the_operator_on_the_other_process(
        cluster: Cluster, new_context) -> None:
    user, monitor, _, _ = await chatting(cluster, new_context)
    question = "Hello, can someone help with child support?"
    await say(user, question)
    entry = entries(monitor).first
    await expect(entry.locator(".chat-message.theirs .chat-text")).to_have_text([question])

    answer = "Yes, I can help. What would you like to know?"
    await composer(entry).fill(answer)
    await composer(entry).press("Enter")
    await expect(entry.locator(".chat-message.mine .chat-text")).to_have_text([answer])
    await expect(entry.locator(".chat-state")).to_have_count(0)  # acknowledged by the home
    reply = user.locator("#lh-messages .chat-message.theirs")
    await expect(reply.locator(".chat-text")).to_have_text([answer])
    await expect(reply.locator(".chat-name")).to_have_text([OPERATOR_NAME])
    await expect(user.locator("#lh-messages .chat-message.mine .chat-text")).to_have_text([question])
    await expect(user.locator("#lh-messages .chat-state")).to_have_count(0)

    await assert_no_violations(user, "the interviewee's Help tab, chatting across processes")
    await assert_no_violations(monitor, "the Monitor, chatting with another process's session")
    SCREENS.mkdir(exist_ok=True)
    await monitor.screenshot(path=str(SCREENS / "cluster-chat-monitor-1366.png"))
    await user.screenshot(path=str(SCREENS / "cluster-chat-user-390.png"), full_page=True)
    assert await stored_texts(cluster, await conversation_of(user)) == [(1, question), (2, answer)]


async def test_the_home_killed_mid_chat_the_page_reconnects_through_nginx(
        cluster: Cluster, new_context) -> None:
    user, monitor, home, _ = await chatting(cluster, new_context)
    mine = user.locator("#lh-messages .chat-message.mine")
    acknowledged = ["first", "second", "third"]
    for text in acknowledged:
        await say(user, text)
    await expect(mine.locator(".chat-text")).to_have_text(acknowledged)
    await expect(mine.locator(".chat-state")).to_have_count(0)
    conversation = await conversation_of(user)

    # The home is frozen, then killed: what the page sends meanwhile is never handled.
    await user.evaluate(HOLD)
    home.process.send_signal(signal.SIGSTOP)
    await say(user, "in flight")
    await expect(mine.locator(".chat-state")).to_have_text(["sending…"])
    home.stop(signal.SIGKILL)
    notice = user.locator("#lh-connection")
    await expect(notice).to_have_text("Disconnected — reconnecting…")
    await say(user, "typed while away")
    await expect(mine.locator(".chat-state")).to_have_text(["sending…", "sending…"])

    # The survivor's Monitor says the session is offline, in words.
    counts = monitor.locator("#counts")
    await expect(counts).to_have_text("1 session: 1 offline", timeout=SETTLE_MS)
    await expect(monitor.get_by_role("button", name="Offline (1)")).to_be_visible()
    SCREENS.mkdir(exist_ok=True)
    await user.screenshot(path=str(SCREENS / "cluster-killed-user-390.png"), full_page=True)
    await monitor.screenshot(path=str(SCREENS / "cluster-killed-monitor-1366.png"))

    await user.evaluate("window.held = false")  # its network is back: it reconnects by itself
    await expect(notice).to_have_text("", timeout=SETTLE_MS)
    everything = [*acknowledged, "in flight", "typed while away"]
    await expect(mine.locator(".chat-text")).to_have_text(everything)
    await expect(mine.locator(".chat-state")).to_have_count(0, timeout=SETTLE_MS)
    await expect(counts).to_have_text("1 session: 1 on", timeout=SETTLE_MS)
    entry = entries(monitor).first
    await expect(entry.locator(".indicator")).to_have_text("on")
    await expect(entry.locator(".chat-text")).to_have_text(everything)
    await monitor.screenshot(path=str(SCREENS / "cluster-back-monitor-1366.png"))
    assert await stored_texts(cluster, conversation) == list(enumerate(everything, start=1))
    # The page's socket is on the survivor now, through nginx.
    survivor = cluster.b if home is cluster.a else cluster.a
    assert (await metrics(survivor.port)).get("livehelp_clients") == 1


async def test_observe_from_the_other_process(cluster: Cluster, new_context) -> None:
    user, monitor = await cobrowsing(cluster, new_context)
    _, view = await observe(monitor)
    await expect(view.locator(".observe-question")).to_have_text("About you")
    await expect(user.locator("#lh-cobrowse-notice")).to_have_text(
        re.compile("An operator is viewing your screen"))

    await user.get_by_label("Your first name").press_sequentially("Ann <b>")
    await expect(view.get_by_label("Your first name")).to_have_value("Ann <b>")
    await expect(view.get_by_label("Your first name")).to_be_disabled()
    SCREENS.mkdir(exist_ok=True)
    await monitor.screenshot(path=str(SCREENS / "cluster-observe-monitor-1366.png"))
    await view.get_by_role("button", name="Stop observing").click()
    await expect(user.locator("#lh-cobrowse-notice")).to_be_hidden()


async def test_control_from_the_other_process(cluster: Cluster, new_context) -> None:
    user, monitor = await cobrowsing(cluster, new_context)
    entry, view = await observe(monitor)
    await expect(view.locator(".observe-question")).to_have_text("About you")
    await entry.get_by_role("button", name="Take control").click()
    await expect(view.locator(".observe-heading")).to_have_text(
        "You are controlling the user's screen")
    notice = user.locator("#lh-cobrowse-notice")
    await expect(notice).to_have_text(re.compile("An operator is controlling your screen"))
    await expect(user.get_by_role("button", name="Continue")).to_be_disabled()

    # Typed at the other process, set at the home on the user's page.
    await view.get_by_label("Your first name").press_sequentially("Olivia <i>")
    await expect(user.get_by_label("Your first name")).to_have_value("Olivia <i>")
    SCREENS.mkdir(exist_ok=True)
    await user.screenshot(path=str(SCREENS / "cluster-controlled-user-1366.png"))
    await monitor.screenshot(path=str(SCREENS / "cluster-control-monitor-1366.png"))

    await view.get_by_role("button", name="Stop controlling").click()
    await expect(notice).to_have_text(re.compile("You have control of your screen again"))
    await expect(user.get_by_role("button", name="Continue")).to_be_enabled()
    await expect(view.get_by_label("Your first name")).to_be_disabled()
    await expect(user.get_by_label("Your first name")).to_have_value("Olivia <i>")


async def test_a_block_from_the_other_process_is_seen_at_home_and_undone_there(
        cluster: Cluster, new_context) -> None:
    user = await open_interviewee(new_context, ThroughNginx(cluster.nginx.port), viewport=PHONE)
    words = user.locator("#lh-partners")
    await expect(words).not_to_have_text("Connecting…")
    home, other = await homes(cluster)
    at_other = await open_monitor(cluster, new_context, other)
    at_home = await monitor_in(at_other.context, home)
    await expect(words).to_have_text("1 operator standing by.")
    await user.locator("#lh-chat-icon").click()
    turn_on = user.get_by_role("button", name="Activate chat")
    await expect(turn_on).to_be_enabled()

    entry_at_other, entry_at_home = entries(at_other).first, entries(at_home).first
    await open_entry(entry_at_other)
    await entry_at_other.get_by_role("button", name="Block", exact=True).click()  # run at home
    await expect(words).to_have_text("Chat with operators is blocked for this session.")
    await expect(turn_on).to_be_disabled()
    for entry in (entry_at_home, entry_at_other):
        await expect(entry.locator(".badge-blocked")).to_have_text("Blocked")
        await expect(entry.locator(".badge-blocked")).to_be_visible()
    await expect(entry_at_other.get_by_role("button", name="Unblock", exact=True)).to_have_attribute(
        "aria-pressed", "true")
    await assert_no_violations(at_other, "the Monitor, a session of another process blocked")
    SCREENS.mkdir(exist_ok=True)
    await at_home.screenshot(path=str(SCREENS / "cluster-blocked-home-monitor-1366.png"))
    await user.screenshot(path=str(SCREENS / "cluster-blocked-user-390.png"))

    await open_entry(entry_at_home)
    await entry_at_home.get_by_role("button", name="Unblock", exact=True).click()
    await expect(entry_at_other.locator(".badge-blocked")).to_be_hidden()
    await expect(entry_at_other.get_by_role("button", name="Block", exact=True)).to_have_attribute(
        "aria-pressed", "false")
    await expect(words).to_have_text("1 operator standing by.")
    await expect(turn_on).to_be_enabled()
    await at_other.screenshot(path=str(SCREENS / "cluster-unblocked-other-monitor-1366.png"))
