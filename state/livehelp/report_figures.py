"""The reports page's charts, from the totals the store counted (reports.py): each
chart's title, a sentence saying what it shows, its table (also its CSV) and what
static/js/reports.js draws. No I/O, and the same totals from either store give the
same page.

Days are whole days in the reader's time zone; a conversation counts on the day it
began. Waiting time is from a conversation's first user message to its first
operator message (0 when an operator wrote first); medians and 90th percentiles as
reports.WaitFigures says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from state.store.reports import SCORES, ReportDays, ReportTotals, WaitFigures

# Every chart of the page, in its order; each is also /reports/<id>.csv.
CHART_IDS = ("conversations", "waiting", "first-response", "operators", "unanswered",
             "messages-left", "satisfaction")
# Bars a chart of operators draws (one per operator, each a line high); the table has all.
MOST_BARS = 15
# Ratings are few a day: beyond a month of days they are shown a week at a time.
MOST_DAYS_OF_RATINGS = 31
WEEK = 7


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "date", "text", "count", "seconds", "score": how a value is written


@dataclass
class Chart:
    """One chart: its words, its table (which its CSV also is) and what is drawn."""

    id: str  # its address: /reports/<id>.csv
    title: str
    summary: str
    columns: list[Column]
    rows: list[tuple]
    drawing: dict = field(default_factory=dict)  # read by static/js/reports.js


@dataclass
class Report:
    first: date
    last: date
    charts: list[Chart]

    def chart(self, chart_id: str) -> Chart | None:
        return next((chart for chart in self.charts if chart.id == chart_id), None)


def duration_words(seconds: float | None) -> str:
    """"1 min 5 s", "45 s", "2 h 3 min"; "—" for none."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s" if whole or not seconds else "less than 1 s"


def day_words(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _plural(count: int, one: str) -> str:
    return f"{count:,} {one if count == 1 else one + 's'}"


def build_report(totals: ReportTotals, days: ReportDays,
                 names: dict[str, str] | None = None) -> Report:
    """The seven charts of the page. `names`: operator email (lower case) -> how to
    name them (an account's name); an email without one is shown as it is."""
    known = names or {}

    def name_of(email: str) -> str:
        return known.get(email, email)

    charts = [
        _conversations(days, totals),
        _waiting(days, totals),
        _first_response(totals, name_of),
        _operators(totals, name_of),
        _unanswered(days, totals),
        _left(days, totals),
        _satisfaction(days, totals),
    ]
    return Report(days.first, days.last, charts)


def _seconds(millis: float | None) -> float | None:
    return None if millis is None else millis / 1000


def _labels(days: ReportDays) -> list[str]:
    return [day.isoformat() for day in days.dates]


def _conversations(days: ReportDays, totals: ReportTotals) -> Chart:
    counts = totals.conversations
    total = sum(counts)
    span = _plural(len(counts), "day")
    if total:
        busiest = max(range(len(counts)), key=lambda i: (counts[i], -i))
        summary = (f"{_plural(total, 'help conversation')} in {span}, "
                   f"{total / len(counts):.1f} a day; the busiest day was "
                   f"{day_words(days.dates[busiest])}, with {counts[busiest]:,}.")
    else:
        summary = f"No help conversations in these {span}."
    return Chart("conversations", "Conversations per day", summary,
                 [Column("Day", "date"), Column("Conversations", "count")],
                 list(zip(days.dates, counts, strict=True)),
                 {"kind": "bar", "unit": "count", "labels": _labels(days),
                  "series": [{"name": "Conversations", "values": counts}]})


def _wait_row(label: object, figures: WaitFigures) -> tuple:
    """A row of a chart of waits: its label, how many waited, the median and the 90th
    percentile in seconds."""
    return (label, figures.count, _seconds(figures.median), _seconds(figures.high))


def _waiting(days: ReportDays, totals: ReportTotals) -> Chart:
    rows = [_wait_row(day, waits) for day, waits in zip(days.dates, totals.waits, strict=True)]
    medians = [row[2] for row in rows]
    highs = [row[3] for row in rows]
    every = totals.all_waits
    if every.count:
        summary = (f"Of {_plural(every.count, 'conversation')} an operator answered, half "
                   f"waited {duration_words(_seconds(every.median))} or less for the first "
                   f"reply, and 9 in 10 waited {duration_words(_seconds(every.high))} or less.")
    else:
        summary = "No conversation got an operator's reply in these dates."
    return Chart("waiting", "Waiting time until the first operator reply", summary,
                 [Column("Day", "date"), Column("Answered", "count"),
                  Column("Median wait", "seconds"), Column("90th percentile", "seconds")],
                 rows,
                 {"kind": "line", "unit": "seconds", "labels": _labels(days),
                  "series": [{"name": "Median", "values": medians, "style": "solid"},
                             {"name": "90th percentile", "values": highs, "style": "dashed"}]})


def _operator_bars(rows: list[tuple], value: int, name: str, unit: str, kept: str) -> dict:
    """The drawing of a chart of operators: the first MOST_BARS rows, and a note when
    some are left out (`kept`: which ones the chart keeps, in words)."""
    shown = rows[:MOST_BARS]
    drawing = {"kind": "hbar", "unit": unit, "labels": [row[0] for row in shown],
               "series": [{"name": name, "values": [row[value] for row in shown]}]}
    if len(rows) > MOST_BARS:
        drawing["note"] = (f"The chart shows the {MOST_BARS} {kept} of {len(rows):,} "
                           "operators; the numbers list them all.")
    return drawing


def _first_response(totals: ReportTotals, name_of: Callable[[str], str]) -> Chart:
    rows = [_wait_row(name_of(email), figures) for email, figures in totals.first_replies.items()]
    rows.sort(key=lambda row: (row[2], -row[1], row[0].casefold()))
    if rows:
        quickest = rows[0]
        summary = (f"{_plural(len(rows), 'operator')} gave first replies; the quickest "
                   f"median was {quickest[0]}'s: {duration_words(quickest[2])} over "
                   f"{_plural(quickest[1], 'conversation')}.")
    else:
        summary = "No operator gave a first reply in these dates."
    return Chart("first-response", "First response time per operator", summary,
                 [Column("Operator", "text"), Column("First replies", "count"),
                  Column("Median", "seconds"), Column("90th percentile", "seconds")], rows,
                 _operator_bars(rows, 2, "Median first reply", "seconds", "quickest"))


def _operators(totals: ReportTotals, name_of: Callable[[str], str]) -> Chart:
    rows = sorted(((name_of(email), count) for email, count in totals.taking_part.items()),
                  key=lambda row: (-row[1], row[0].casefold()))
    if rows:
        summary = (f"{_plural(len(rows), 'operator')} wrote in conversations; {rows[0][0]} "
                   f"in the most: {rows[0][1]:,} of {sum(totals.conversations):,}.")
    else:
        summary = "No operator wrote in a conversation in these dates."
    return Chart("operators", "Conversations per operator", summary,
                 [Column("Operator", "text"), Column("Conversations", "count")], rows,
                 _operator_bars(rows, 1, "Conversations", "count", "busiest"))


def _unanswered(days: ReportDays, totals: ReportTotals) -> Chart:
    wrote, left = totals.wrote, totals.unanswered
    if sum(wrote):
        share = round(100 * sum(left) / sum(wrote))
        summary = (f"{sum(left):,} of {_plural(sum(wrote), 'user')} who wrote ({share} %) "
                   "left without an operator's answer.")
    else:
        summary = "No user wrote in these dates."
    return Chart("unanswered", "Users who left before an answer", summary,
                 [Column("Day", "date"), Column("Users who wrote", "count"),
                  Column("Left without an answer", "count")],
                 list(zip(days.dates, wrote, left, strict=True)),
                 {"kind": "bar", "unit": "count", "labels": _labels(days),
                  "series": [{"name": "Left without an answer", "values": left}]})


def _left(days: ReportDays, totals: ReportTotals) -> Chart:
    left, handled, waiting = totals.left, totals.handled, totals.left_waiting
    summary = (f"{_plural(sum(left), 'message')} left and {sum(handled):,} handled in these "
               f"dates; {waiting:,} of those left here still wait{'s' if waiting == 1 else ''} "
               "to be handled.")
    return Chart("messages-left", "Messages left and handled", summary,
                 [Column("Day", "date"), Column("Left", "count"), Column("Handled", "count")],
                 list(zip(days.dates, left, handled, strict=True)),
                 {"kind": "line", "unit": "count", "labels": _labels(days),
                  "series": [{"name": "Left", "values": left, "style": "solid"},
                             {"name": "Handled", "values": handled, "style": "dashed"}]})


def _satisfaction(days: ReportDays, totals: ReportTotals) -> Chart:
    size = 1 if len(days.dates) <= MOST_DAYS_OF_RATINGS else WEEK
    periods = days.dates[::size]
    spreads = [[sum(day[s - 1] for day in totals.scores[start:start + size]) for s in SCORES]
               for start in range(0, len(days.dates), size)]
    counts = [sum(spread) for spread in spreads]
    means = [round(_mean(spread), 2) if count else None
             for spread, count in zip(spreads, counts, strict=True)]
    every = [sum(spread[s - 1] for spread in spreads) for s in SCORES]
    if sum(every):
        summary = (f"{_plural(sum(every), 'rating')}, a mean score of {_mean(every):.1f} "
                   "out of 5; " + ", ".join(f"{every[s - 1]:,} gave {s}" for s in reversed(SCORES)
                                           if every[s - 1]) + ".")
    else:
        summary = "No chat was rated in these dates."
    unit = "Day" if size == 1 else "Week from"
    title = "Satisfaction per day" if size == 1 else "Satisfaction per week"
    return Chart("satisfaction", title, summary,
                 [Column(unit, "date"), Column("Ratings", "count"), Column("Mean score", "score")],
                 list(zip(periods, counts, means, strict=True)),
                 {"kind": "combo", "unit": "score",
                  "labels": [period.isoformat() for period in periods],
                  "series": [{"name": "Mean score", "values": means, "style": "solid"},
                             {"name": "Ratings", "values": counts, "type": "bar"}]})


def _mean(spread: list[int]) -> float:
    """The mean score of `spread` (how many gave 1, 2, ... 5)."""
    return sum(score * spread[score - 1] for score in SCORES) / sum(spread)
