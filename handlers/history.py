"""The history page (operators): past conversations newest first, paged, and a GET
search over message text, person, interview, operator and a date range. Each
conversation and each hit opens its transcript (handlers/transcript.py).

The store pages the listing one way only (older: `HistoryPage.next_before`); "Newer"
works because each page's address carries the cursors of the pages before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

import tornado.escape
from markupsafe import Markup, escape

from handlers.base import BaseHandler, operator_required
from state.livehelp.entries import visitor_label
from state.livehelp.transcript import TimeZone
from state.store.base import (
    MARK_END,
    MARK_START,
    ConversationSummary,
    HistoryQuery,
    SearchHit,
    User,
)
from state.store.history_words import search_words

# Conversations on one page of the listing; hits shown for one search (the newest).
PAGE_SIZE = 25
HITS_SHOWN = 50
# Cursors of earlier pages an address keeps for "Newer"; deeper than this, "Newer"
# starts again from the newest page (an address stays a few kilobytes at most).
TRAIL_MAX = 40
# Longer than any name, email or search a person types; more is cut, not refused.
LONGEST_FIELD = 200


def marked_html(text: str) -> Markup:
    """A hit's text for the page: escaped first, then our marks made <mark> (the store
    removed any mark characters the message itself had, so each one here is ours)."""
    return Markup(str(escape(text)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


class FormError(ValueError):
    """A field of the search form that cannot be used, with what to do about it."""

    def __init__(self, field_name: str, words: str) -> None:
        super().__init__(words)
        self.field_name = field_name


def parse_day(text: str, field_name: str, label: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormError(field_name, f"“{label}” is not a date: write it as year-month-day, "
                        "for example 2024-05-31.") from None


@dataclass
class HistoryForm:
    """What the search form asked, checked; `error` says in words what was wrong."""

    words: str = ""
    person: str = ""
    interview: str = ""
    operator: str = ""
    since_text: str = ""
    until_text: str = ""
    before: str | None = None
    trail: list[str] = field(default_factory=list)
    zone: TimeZone = field(default_factory=lambda: TimeZone.named("UTC"))
    since: datetime | None = None
    until: datetime | None = None
    error: str = ""
    error_field: str = ""  # the field `error` is about: "q", "from" or "to"

    def check(self) -> None:
        """Raise FormError for the first field that cannot be used."""
        if self.words and not search_words(self.words):
            raise FormError("q", f"“{self.words}” has no word to search for: type letters "
                            "or digits.")
        since = parse_day(self.since_text, "from", "From") if self.since_text else None
        until = parse_day(self.until_text, "to", "To") if self.until_text else None
        if since and until and since > until:
            raise FormError("from", f"“From” ({since}) is after “To” ({until}): no day is "
                            "in between. Swap them, or clear one.")
        # Whole days in the reader's zone: from the start of "From" to the end of "To".
        if since:
            self.since = datetime.combine(since, time(), tzinfo=self.zone.zone)
        if until:
            self.until = datetime.combine(until + timedelta(days=1), time(), tzinfo=self.zone.zone)

    def query(self, limit: int) -> HistoryQuery:
        return HistoryQuery(text=self.words, person=self.person, interview=self.interview,
                            operator=self.operator, since=self.since, until=self.until,
                            limit=limit, before=self.before)

    def filters(self) -> dict[str, str]:
        """The form's fields as an address keeps them (empty ones left out)."""
        fields = {"q": self.words, "person": self.person, "interview": self.interview,
                  "operator": self.operator, "from": self.since_text, "to": self.until_text,
                  "tz": self.zone.kept_name}
        return {name: value for name, value in fields.items() if value}


class HistoryHandler(BaseHandler):
    """GET /history: the listing, or the hits of a search when words were given."""

    def typed(self, name: str) -> str:
        return self.get_query_argument(name, "").strip()[:LONGEST_FIELD]

    def read_form(self) -> HistoryForm:
        form = HistoryForm(
            words=self.typed("q"), person=self.typed("person"),
            interview=self.typed("interview"), operator=self.typed("operator"),
            since_text=self.typed("from"), until_text=self.typed("to"),
            before=self.get_query_argument("before", "") or None,
            trail=self.get_query_arguments("back")[-TRAIL_MAX:],
            zone=TimeZone.named(self.get_query_argument("tz", "")))
        try:
            form.check()
        except FormError as error:
            form.error, form.error_field = str(error), error.field_name
        return form

    def page_url(self, form: HistoryForm, before: str | None, trail: list[str]) -> str:
        fields: list[tuple[str, str]] = list(form.filters().items())
        if before:
            fields += [("before", before)] + [("back", cursor) for cursor in trail]
        return self.url("history") + ("?" + urlencode(fields) if fields else "")

    def transcript_url(self, conversation: str, form: HistoryForm, seq: int | None = None) -> str:
        path = "history/" + tornado.escape.url_escape(conversation, plus=False)
        zone = form.zone.kept_name
        return (self.url(path) + (f"?{urlencode({'tz': zone})}" if zone else "")
                + (f"#m{seq}" if seq else ""))

    @operator_required
    async def get(self) -> None:
        form = self.read_form()
        operators = [user for user in await self.store.list_users() if user.is_operator]
        context = {"form": form, "interviews": self.interviews.all(), "operators": operators,
                   "conversations": [], "hits": [], "more_hits": False,
                   "searched": bool(form.words),
                   "newer_url": "", "older_url": "", "newest_url": ""}
        if form.error:
            self.set_status(400)
        elif form.words:
            hits = await self.store.search_messages(form.query(HITS_SHOWN))
            context["hits"] = await self.hit_rows(hits, form)
            context["more_hits"] = len(hits) == HITS_SHOWN
        else:
            try:
                page = await self.store.list_conversations(form.query(PAGE_SIZE))
            except ValueError:  # a cursor this store never gave
                self.set_status(400)
                form.error = ("This page of the history does not exist (the link is "
                              "broken or was cut). Start again from the newest conversations.")
            else:
                context["conversations"] = self.conversation_rows(page.conversations,
                                                                  operators, form)
                self.paging(context, form, page.next_before)
        context["newest_url"] = self.page_url(form, None, [])
        self.render_page("history.html", **context)

    def paging(self, context: dict, form: HistoryForm, next_before: str | None) -> None:
        if next_before:
            trail = [*form.trail, form.before] if form.before else []
            context["older_url"] = self.page_url(form, next_before, trail[-TRAIL_MAX:])
        if form.before:
            context["newer_url"] = self.page_url(
                form, form.trail[-1] if form.trail else None, form.trail[:-1])

    def conversation_rows(self, summaries: list[ConversationSummary], operators: list[User],
                          form: HistoryForm) -> list[dict]:
        names = {user.email.lower(): user.display_name for user in operators}
        rows = []
        for summary in summaries:
            rows.append({
                "summary": summary,
                "last_time": form.zone.local(summary.last_time),
                "title": self.title_of(summary.interview),
                "person": person_words(summary),
                "operators": [names.get(email, email) for email in summary.operators],
                "url": self.transcript_url(summary.conversation, form),
            })
        return rows

    async def hit_rows(self, hits: list[SearchHit], form: HistoryForm) -> list[dict]:
        titles: dict[str, str] = {}
        for session_id in dict.fromkeys(hit.session_id for hit in hits):
            record = await self.store.get_session(session_id)
            titles[session_id] = self.title_of(record.interview if record else None)
        return [{"hit": hit, "time": form.zone.local(hit.time), "title": titles[hit.session_id],
                 "text": marked_html(hit.text),
                 "sender": hit.sender_name or ("Operator" if hit.sender_role == "operator"
                                               else "Anonymous user"),
                 "url": self.transcript_url(hit.conversation, form, hit.seq)} for hit in hits]

    def title_of(self, name: str | None) -> str:
        interview = self.interviews.get(name) if name else None
        return interview.title if interview else (name or "Unknown interview")


def person_words(summary: ConversationSummary) -> str:
    """Who the interviewee was, as the Monitor named them: their name or email, else the
    visitor label of a private conversation (its id is the client's key)."""
    if summary.person_name or summary.person_email:
        return summary.person_name or summary.person_email or ""
    if "|" in summary.conversation:
        return visitor_label(summary.conversation)
    return "Anonymous people"


routes = [("history", HistoryHandler)]
