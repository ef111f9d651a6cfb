"""The reports page (admins; advocates too with `reports: advocates: true`): charts of
a date range's help conversations, waits, operators, messages left and ratings, each
with its table, and each as a CSV download (/reports/<chart>.csv). The figures are
worked out in state/livehelp/report_figures.py from what the store reads
(state/store/reports.py); days are the reader's, like the history page's (`tz`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import tornado.web

from handlers.base import BaseHandler, operator_required
from handlers.history import FormError, parse_day
from state.livehelp.report_figures import (
    CHART_IDS,
    Chart,
    Report,
    build_report,
    duration_words,
)
from state.livehelp.transcript import TimeZone
from state.store.reports import ReportDays

# The default range: the last 30 days, today included.
DEFAULT_DAYS = 30
# A year of days at most: a range costs a read of its conversations' summaries.
MOST_DAYS = 366
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass
class ReportRange:
    """The days asked for, checked; `error` says in words what was wrong."""

    first_text: str
    last_text: str
    zone: TimeZone
    first: date | None = None
    last: date | None = None
    error: str = ""
    error_field: str = ""

    def check(self) -> None:
        first = parse_day(self.first_text, "from", "From")
        last = parse_day(self.last_text, "to", "To")
        if first > last:
            raise FormError("from", f"“From” ({first}) is after “To” ({last}): no day is in "
                             "between. Swap them.")
        days = (last - first).days + 1
        if days > MOST_DAYS:
            raise FormError("from", f"These dates span {days:,} days: choose at most "
                             f"{MOST_DAYS} days (a year).")
        self.first, self.last = first, last

    def query(self) -> str:
        fields = {"from": self.first_text, "to": self.last_text,
                  "tz": self.zone.kept_name}
        return urlencode({name: value for name, value in fields.items() if value})


def cell_words(value: Any, kind: str) -> str:
    """A value as the page's table shows it."""
    if value is None:
        return "—"
    if kind == "date":
        return f"{value:%a} {value.day} {value:%b %Y}"
    if kind == "seconds":
        return duration_words(value)
    if kind == "score":
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:,}" if isinstance(value, int) else str(value)


def csv_cell(value: Any, kind: str) -> str:
    """A value as the CSV holds it: dates ISO, seconds to a tenth, text never a formula."""
    if value is None:
        return ""
    if kind == "date":
        return value.isoformat()
    if kind == "seconds":
        return f"{value:.1f}"
    text = str(value)
    return "'" + text if kind == "text" and text.startswith(FORMULA_STARTS) else text


def chart_csv(chart: Chart) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"{c.name} (seconds)" if c.kind == "seconds" else c.name
                     for c in chart.columns])
    for row in chart.rows:
        writer.writerow([csv_cell(value, column.kind)
                         for value, column in zip(row, chart.columns, strict=True)])
    return out.getvalue()


class ReportsBase(BaseHandler):
    def may_see_reports(self) -> None:
        """Admins; advocates only when the config says so (operator_required ran first)."""
        if not (self.current_user.is_admin or self.config.reports.advocates):
            raise tornado.web.HTTPError(403, "This page is for administrators only.")

    def report_range(self) -> ReportRange:
        zone = TimeZone.named(self.get_query_argument("tz", ""))
        today = datetime.now(zone.zone).date()
        asked = ReportRange(
            self.get_query_argument("from", "").strip()[:40]
            or str(today - timedelta(days=DEFAULT_DAYS - 1)),
            self.get_query_argument("to", "").strip()[:40] or str(today), zone)
        try:
            asked.check()
        except FormError as error:
            asked.error, asked.error_field = str(error), error.field_name
        return asked

    async def report(self, asked: ReportRange) -> Report:
        assert asked.first is not None and asked.last is not None
        days = ReportDays(asked.first, asked.last, asked.zone.zone)
        totals = await self.store.report_totals(days)  # counted off the event loop
        # Operators by their account's name where they have one.
        names = {user.email.lower(): user.display_name for user in await self.store.list_users()}
        return build_report(totals, days, names)


class ReportsHandler(ReportsBase):
    """GET /reports: the date form and the charts."""

    @operator_required
    async def get(self) -> None:
        self.may_see_reports()
        asked = self.report_range()
        report = None
        if asked.error:
            self.set_status(400)
        else:
            report = await self.report(asked)
        drawings = {chart.id: chart.drawing for chart in (report.charts if report else [])}
        # `tojson` in the template: safe inside <script> whatever an account's name holds.
        self.render_page("reports.html", asked=asked, report=report, cell_words=cell_words,
                         drawings=drawings)


class ReportCsvHandler(ReportsBase):
    """GET /reports/<chart>.csv: one chart's table, for a spreadsheet."""

    @operator_required
    async def get(self, chart_id: str) -> None:
        self.may_see_reports()
        asked = self.report_range()
        if asked.error:
            raise tornado.web.HTTPError(400, asked.error)
        if chart_id not in CHART_IDS:
            raise tornado.web.HTTPError(404, "There is no such report.")
        chart = (await self.report(asked)).chart(chart_id)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="livehelp-{chart_id}-'
                        f'{asked.first}-to-{asked.last}.csv"')
        self.finish(chart_csv(chart))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A download that fails says why in words, as plain text."""
        _, message = self.error_message(status_code, kwargs.get("exc_info"))
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message + "\n")


routes = [("reports", ReportsHandler), (r"reports/([a-z-]{1,40})\.csv", ReportCsvHandler)]
