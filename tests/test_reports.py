"""The reports page: its figures from a seeded store on both stores (exact numbers from
known data), days in the reader's zone, the CSV downloads, the date form's words, and
who may see it (state/store/reports.py, state/livehelp/report_figures.py, handlers/reports.py)."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest

from state.config import ReportsFile
from state.livehelp.report_figures import build_report, duration_words
from state.store.base import ChatMessage, LeftMessage, Rating, SessionRecord, Store
from state.store.reports import ReportDays, Tally, WaitFigures
from tests import test_store_contract

# The contract's fixtures: the store tests of this module run on every store it does.
make_store = test_store_contract.make_store
store = test_store_contract.store

FIRST, LAST = date(2026, 3, 1), date(2026, 3, 3)
OLGA, BOB = "olga@example.org", "Bob@Example.org"


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def said(conversation: str, moment: datetime, operator: str | None = None) -> ChatMessage:
    session = conversation.split("|")[0]
    role, email = ("operator", operator) if operator else ("user", None)
    return ChatMessage(conversation=conversation, session_id=session,
                       sender_key=f"u:{operator}" if operator else "b:x", sender_role=role,
                       text="words", client_id=f"{conversation}{moment.isoformat()}",
                       sender_email=email, time=moment)


# Help conversations A to E begin in the range, G before it and H after it; "s6" is a
# shared (peer) conversation: its id is its session's, and it is not reported.
CHAT = [
    said("s1|b:a", at(1, 10)), said("s1|b:a", at(1, 10, 0, 30), OLGA),  # waited 30 s
    said("s1|b:a", at(1, 10, 2)), said("s1|b:a", at(1, 10, 5), BOB),
    said("s2|b:b", at(1, 12)), said("s2|b:b", at(1, 12, 2), OLGA),  # 120 s
    said("s3|b:c", at(2, 9)), said("s3|b:c", at(2, 9, 0, 10), BOB),  # 10 s
    said("s4|b:d", at(2, 15)),  # nobody answered
    said("s5|b:e", at(2, 16), OLGA), said("s5|b:e", at(2, 16, 0, 20)),  # the operator first
    said("s6", at(2, 11)), said("s6", at(2, 11, 1), OLGA),
    said("s7|b:g", at(28, 23, 59, month=2)), said("s7|b:g", at(1, 0, 5), OLGA),
    said("s8|b:h", at(4, 0)), said("s8|b:h", at(4, 0, 1), BOB),
]
LEFT = [
    LeftMessage("s9", "demo", "s9|b:l", "call me", id="l1", created=at(1, 8),
                handled_by=OLGA, handled_at=at(2, 10)),
    LeftMessage("s9", "demo", "s9|b:l", "still there?", id="l2", created=at(2, 11)),
    LeftMessage("s9", "demo", "s9|b:m", "old one", id="l3", created=at(27, 9, month=2),
                handled_by=OLGA, handled_at=at(3, 9)),
    LeftMessage("s9", "demo", "s9|b:n", "later one", id="l4", created=at(5, 9)),
    LeftMessage("s9", "demo", "s9|b:o", "handled after", id="l5", created=at(3, 18),
                handled_by=OLGA, handled_at=at(5, 9)),
]
RATINGS = [
    Rating("s1|b:a", "s1", "demo", 5, created=at(1, 11)),
    Rating("s2|b:b", "s2", "demo", 4, created=at(1, 13)),
    Rating("s3|b:c", "s3", "demo", 2, created=at(3, 8)),
    Rating("s8|b:h", "s8", "demo", 1, created=at(4, 1)),
]


async def seed(store: Store) -> None:
    for number in range(1, 10):
        await store.save_session(SessionRecord(id=f"s{number}", interview="demo"))
    for message in CHAT:
        await store.add_message(message)
    for left in LEFT:
        await store.add_left_message(left)
    for rating in RATINGS:
        await store.add_rating(rating)


async def report_of(store: Store, zone=UTC):
    days = ReportDays(FIRST, LAST, zone)
    return build_report(await store.report_totals(days), days, names={OLGA: "Olga Ortiz"})


def rows(report, chart_id: str) -> list[tuple]:
    return report.chart(chart_id).rows


D1, D2, D3 = FIRST, date(2026, 3, 2), LAST


async def test_the_figures_from_a_seeded_store(store: Store) -> None:
    await seed(store)
    report = await report_of(store)
    assert rows(report, "conversations") == [(D1, 2), (D2, 3), (D3, 0)]
    assert rows(report, "waiting") == [(D1, 2, 75.0, 120.0), (D2, 2, 5.0, 10.0),
                                       (D3, 0, None, None)]
    # Bob's email is kept in lower case by the summaries; Olga has an account name.
    assert rows(report, "first-response") == [("bob@example.org", 1, 10.0, 10.0),
                                              ("Olga Ortiz", 3, 30.0, 120.0)]
    assert rows(report, "operators") == [("Olga Ortiz", 3), ("bob@example.org", 2)]
    assert rows(report, "unanswered") == [(D1, 2, 0), (D2, 3, 1), (D3, 0, 0)]
    assert rows(report, "messages-left") == [(D1, 1, 0), (D2, 1, 1), (D3, 1, 1)]
    assert rows(report, "satisfaction") == [(D1, 2, 4.5), (D2, 0, None), (D3, 1, 2.0)]


async def test_each_chart_says_its_figures_in_words(store: Store) -> None:
    await seed(store)
    summaries = {chart.id: chart.summary for chart in (await report_of(store)).charts}
    assert summaries == {
        "conversations": "5 help conversations in 3 days, 1.7 a day; the busiest day was "
                         "2 March 2026, with 3.",
        "waiting": "Of 4 conversations an operator answered, half waited 20 s or less for "
                   "the first reply, and 9 in 10 waited 2 min or less.",
        "first-response": "2 operators gave first replies; the quickest median was "
                          "bob@example.org's: 10 s over 1 conversation.",
        "operators": "2 operators wrote in conversations; Olga Ortiz in the most: 3 of 5.",
        "unanswered": "1 of 5 users who wrote (20 %) left without an operator's answer.",
        "messages-left": "3 messages left and 2 handled in these dates; 1 of those left "
                         "here still waits to be handled.",
        "satisfaction": "3 ratings, a mean score of 3.7 out of 5; 1 gave 5, 1 gave 4, "
                        "1 gave 2.",
    }


async def test_days_are_the_readers_days(store: Store) -> None:
    """In New York (UTC-5 in March) conversation A (10:00 UTC) is still on 1 March, and
    a conversation at 03:00 UTC on 2 March belongs to 1 March."""
    await store.save_session(SessionRecord(id="s1", interview="demo"))
    await store.add_message(said("s1|b:a", at(2, 3)))
    await store.add_message(said("s1|b:a", at(2, 3, 1), OLGA))
    new_york = zoneinfo.ZoneInfo("America/New_York")
    assert rows(await report_of(store, new_york), "conversations") == [
        (D1, 1), (D2, 0), (D3, 0)]
    assert rows(await report_of(store), "conversations") == [(D1, 0), (D2, 1), (D3, 0)]


async def test_an_empty_range_says_so(store: Store) -> None:
    report = await report_of(store)
    assert rows(report, "waiting")[0] == (D1, 0, None, None)
    assert report.chart("satisfaction").summary == "No chat was rated in these dates."
    assert report.chart("operators").rows == []


async def test_has_rating_answers_per_conversation(store: Store) -> None:
    await store.add_rating(Rating("s1|b:a", "s1", "demo", 5))
    assert await store.has_rating("s1|b:a") and not await store.has_rating("s2|b:b")


def test_ratings_of_a_long_range_go_by_week() -> None:
    days = ReportDays(date(2026, 1, 1), date(2026, 3, 31), UTC)
    tally = Tally(len(days.dates))
    for day, score in ((0, 5), (7, 3), (8, 4)):  # 1, 8 and 9 January
        tally.rating(day, score)
    chart = build_report(tally.totals(), days).chart("satisfaction")
    assert chart.title == "Satisfaction per week"
    assert chart.rows[:3] == [(date(2026, 1, 1), 1, 5.0), (date(2026, 1, 8), 2, 3.5),
                              (date(2026, 1, 15), 0, None)]
    assert len(chart.rows) == 13  # 90 days: 12 whole weeks and the 13th's 6 days


def test_the_90th_percentile_is_the_nearest_rank() -> None:
    assert WaitFigures.of([wait * 1000 for wait in range(10, 0, -1)]) == (10, 5500, 9000)
    assert WaitFigures.of([7000, 1000, 3000]) == (3, 3000, 7000)
    assert WaitFigures.of([]) == (0, None, None)


@pytest.mark.parametrize(("seconds", "words"), [(None, "—"), (0, "0 s"), (0.4, "less than 1 s"),
                                                (45, "45 s"), (60, "1 min"), (125, "2 min 5 s"),
                                                (3600, "1 h"), (7380, "2 h 3 min")])
def test_durations_in_words(seconds, words) -> None:
    assert duration_words(seconds) == words


# -- the page, its CSV and who may see it ---------------------------------------------------

async def admin_cookie(live_server, privileges=("admin",), email="root@example.org") -> str:
    return await live_server.user_cookie(await live_server.add_user(email, privileges))


RANGE = "from=2026-03-01&to=2026-03-03&tz=UTC"


async def test_each_chart_downloads_as_csv(live_server) -> None:
    await seed(live_server.services.store)
    cookie = await admin_cookie(live_server)
    response = await live_server.fetch(f"reports/waiting.csv?{RANGE}", cookie=cookie)
    assert response.code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="livehelp-waiting-2026-03-01-to-2026-03-03.csv"')
    assert list(csv.reader(io.StringIO(response.body.decode()))) == [
        ["Day", "Answered", "Median wait (seconds)", "90th percentile (seconds)"],
        ["2026-03-01", "2", "75.0", "120.0"], ["2026-03-02", "2", "5.0", "10.0"],
        ["2026-03-03", "0", "", ""]]
    operators = await live_server.fetch(f"reports/operators.csv?{RANGE}", cookie=cookie)
    assert operators.body.decode().splitlines() == [
        "Operator,Conversations", "olga@example.org,3", "bob@example.org,2"]


async def test_a_csv_cell_that_could_be_a_formula_is_quoted(live_server) -> None:
    kept = live_server.services.store
    await kept.save_session(SessionRecord(id="s1", interview="demo"))
    await kept.add_message(said("s1|b:a", at(1, 10)))
    await kept.add_message(said("s1|b:a", at(1, 10, 1), "=cmd@example.org"))
    cookie = await admin_cookie(live_server)
    response = await live_server.fetch(f"reports/operators.csv?{RANGE}", cookie=cookie)
    assert response.body.decode().splitlines()[1] == "'=cmd@example.org,1"


async def test_the_page_shows_every_chart_with_its_table_and_csv_link(live_server) -> None:
    await seed(live_server.services.store)
    page = await live_server.fetch(f"reports?{RANGE}", cookie=await admin_cookie(live_server))
    html = page.body.decode()
    assert page.code == 200
    for chart_id in ("conversations", "waiting", "first-response", "operators", "unanswered",
                     "messages-left", "satisfaction"):
        assert f'id="chart-{chart_id}"' in html
        assert f'href="/reports/{chart_id}.csv?from=2026-03-01&amp;to=2026-03-03&amp;tz=UTC"' in html
    assert html.count("<table") == 7
    assert '<td class="number">2 min</td>' in html  # the 90th percentile of 1 March, in words


@pytest.mark.parametrize(("query", "words"), [
    ("from=2026-13-01&to=2026-03-03", "“From” is not a date"),
    ("from=2026-03-05&to=2026-03-03", "“From” (2026-03-05) is after “To” (2026-03-03)"),
    ("from=2024-01-01&to=2026-03-03", "at most 366 days"),
])
async def test_a_bad_date_range_is_refused_in_plain_words(live_server, query, words) -> None:
    cookie = await admin_cookie(live_server)
    page = await live_server.fetch(f"reports?{query}&tz=UTC", cookie=cookie)
    assert page.code == 400 and words in page.body.decode()
    assert "<canvas" not in page.body.decode()
    download = await live_server.fetch(f"reports/waiting.csv?{query}&tz=UTC", cookie=cookie)
    assert download.code == 400 and words in download.body.decode()


async def test_the_default_range_is_the_last_30_days(live_server) -> None:
    page = await live_server.fetch("reports?tz=UTC", cookie=await admin_cookie(live_server))
    today = datetime.now(UTC).date()
    html = page.body.decode()
    assert f'value="{today - timedelta(days=29)}"' in html and f'value="{today}"' in html


async def test_an_unknown_chart_is_not_found(live_server) -> None:
    cookie = await admin_cookie(live_server)
    assert (await live_server.fetch(f"reports/weather.csv?{RANGE}", cookie=cookie)).code == 404


async def test_advocates_see_reports_only_when_the_config_says_so(live_server) -> None:
    cookie = await admin_cookie(live_server, ("advocate",), "ann@example.org")
    assert (await live_server.fetch("reports?tz=UTC", cookie=cookie)).code == 403
    assert (await live_server.fetch(f"reports/waiting.csv?{RANGE}", cookie=cookie)).code == 403
    live_server.services.config.reports = ReportsFile(advocates=True)
    assert (await live_server.fetch("reports?tz=UTC", cookie=cookie)).code == 200
    assert (await live_server.fetch(f"reports/waiting.csv?{RANGE}", cookie=cookie)).code == 200


async def test_a_demoted_operator_loses_the_reports_at_once(live_server) -> None:
    live_server.services.config.reports = ReportsFile(advocates=True)
    ann = await live_server.add_user("ann@example.org", ("advocate",))
    cookie = await live_server.user_cookie(ann)
    assert (await live_server.fetch("reports?tz=UTC", cookie=cookie)).code == 200
    ann.privileges = ["user"]
    await live_server.services.store.update_user(ann)
    assert (await live_server.fetch("reports?tz=UTC", cookie=cookie)).code == 403


async def test_an_operator_name_with_markup_stays_text_in_the_page(live_server) -> None:
    """Names reach the page twice: in the tables (escaped) and in the charts' JSON."""
    kept = live_server.services.store
    evil = "</script><script>alert(1)</script>"
    await live_server.add_user(OLGA, ("advocate",), first_name=evil)
    await kept.save_session(SessionRecord(id="s1", interview="demo"))
    await kept.add_message(said("s1|b:a", at(1, 10)))
    await kept.add_message(said("s1|b:a", at(1, 10, 1), OLGA))
    page = await live_server.fetch(f"reports?{RANGE}", cookie=await admin_cookie(live_server))
    html = page.body.decode()
    assert page.code == 200 and evil not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the table
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in html  # the charts' JSON


async def test_the_days_asked_for_are_the_readers(live_server) -> None:
    """`tz` names the reader's zone: 1 March in New York runs to 05:00 UTC on 2 March."""
    kept = live_server.services.store
    await kept.save_session(SessionRecord(id="s1", interview="demo"))
    await kept.add_message(said("s1|b:a", at(2, 3)))
    cookie = await admin_cookie(live_server)
    asked = "reports/conversations.csv?from=2026-03-01&to=2026-03-01&tz=America/New_York"
    assert (await live_server.fetch(asked, cookie=cookie)).body.decode().splitlines() == [
        "Day,Conversations", "2026-03-01,1"]
