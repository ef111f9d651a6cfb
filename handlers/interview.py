"""Interview pages: the list, showing the current screen, submitting it, restarting, sharing.

The walking itself lives in `state.interview.runner`; these handlers find the
session this browser holds, run the interview inside the live-help API context,
save, and tell the live-help model the session changed.
"""

from __future__ import annotations

import json
import logging
from contextlib import AbstractAsyncContextManager

import tornado.web

from handlers.base import BaseHandler
from state.interview.library import Interview, InterviewRuntimeError, Page
from state.livehelp.rules import LiveHelpSettings, client_key
from state.store.base import AuditEntry, SessionRecord, new_id

log = logging.getLogger(__name__)


def fingerprint(record: SessionRecord) -> str:
    """What an interview run may change, in a comparable form."""
    return json.dumps([record.answers, record.progress, record.live_help],
                      sort_keys=True, default=str)


class IndexHandler(BaseHandler):
    """GET /: the list of interviews."""

    def get(self) -> None:
        self.render_page("index.html", interviews=self.interviews.all())


class InterviewBase(BaseHandler):
    """What the interview handlers share: finding the interview, the session and the viewer."""

    def interview_named(self, name: str) -> Interview:
        interview = self.interviews.get(name)
        if interview is None:
            raise tornado.web.HTTPError(404, "There is no interview called %s.", name)
        return interview

    def granted_id(self, interview: Interview) -> str:
        """The id of the session this browser was granted for the interview, or ''."""
        session_id = self.session_grants().get(interview.name)
        return session_id if isinstance(session_id, str) else ""

    def record_lock(self, interview: Interview) -> AbstractAsyncContextManager[None]:
        """Held from reading this browser's session of `interview` to saving it, so that
        changes made at the same moment by others (see state/livehelp/session_locks.py) stay."""
        return self.livehelp.record_locks.hold(self.granted_id(interview))

    async def held_session(self, interview: Interview) -> SessionRecord | None:
        """The session this browser was granted for the interview, if it still exists."""
        session_id = self.granted_id(interview)
        if not session_id:
            return None
        record = await self.store.get_session(session_id)
        if record is None or record.interview != interview.name:
            return None
        return record

    def new_record(self, interview: Interview) -> SessionRecord:
        owner = self.current_user.id if self.current_user else None
        return SessionRecord(id=new_id(), interview=interview.name, owner_id=owner)

    async def save(self, record: SessionRecord, interview: Interview) -> None:
        """Store first; only a stored change reaches the live-help model (never half-written)."""
        await self.store.save_session(record)
        self.livehelp.session_changed(record, interview.title)
        self.livehelp.client_seen(client_key(record.id, self.participant_key))

    def show_problem(self, interview: Interview, record: SessionRecord | None,
                     error: InterviewRuntimeError) -> None:
        """A screen failed on these answers: say so calmly, offer a way back, tell the
        log exactly where (the people who run the service read it)."""
        log.error("interview %s could not be shown to session %s: %s", interview.name,
                  record.id if record else "(new)", error)
        self.set_status(500)
        done = record.progress.get("done") if record else None
        self.render_page("interview_problem.html", interview=interview, can_go_back=bool(done))

    def show(self, interview: Interview, record: SessionRecord, page: Page,
             interview_help: object) -> None:
        settings = LiveHelpSettings.of(record.live_help)
        share_url = None
        if interview.multi_user:
            share_url = self.public_base_url() + self.url(f"share/{record.id}")
        self.render_page(
            "interview.html",
            interview=interview, page=page, session_id=record.id,
            # Live help is "on" for the page (chat partials, nav icon, user socket
            # script) when the session is listed; otherwise no trace of the feature.
            availability=settings.availability, live_help_on=settings.listed,
            interview_help=interview_help, share_url=share_url,
        )


class InterviewHandler(InterviewBase):
    """GET shows the current screen (starting a session if needed); POST submits it."""

    async def get(self, name: str) -> None:
        interview = self.interview_named(name)
        async with self.record_lock(interview):
            record = await self.held_session(interview)
            is_new = record is None
            if record is None:
                record = self.new_record(interview)
            before = fingerprint(record)
            run = self.interviews.run(interview, record, self.viewer(record))
            try:
                async with self.api_context(interview, record):
                    page = run.page()
                    interview_help = run.render(interview.help, paragraphs=True,
                                                where="interview help")
            except InterviewRuntimeError as error:
                return self.show_problem(interview, None if is_new else record, error)
            # Saved when new or when code blocks changed answers or live-help settings.
            # Not otherwise: in a shared session a view that rewrote an unchanged record
            # could undo another person's submission made a moment earlier.
            if is_new or fingerprint(record) != before:
                await self.save(record, interview)
            else:
                self.livehelp.session_changed(record, interview.title)
                self.livehelp.client_seen(client_key(record.id, self.participant_key))
        if is_new:
            self.grant_session(interview.name, record.id)
        self.show_home(interview.name, record.id)
        self.show(interview, record, page, interview_help)

    async def post(self, name: str) -> None:
        interview = self.interview_named(name)
        async with self.record_lock(interview):
            record = await self.held_session(interview)
            if record is None:
                # No session (expired cookie, deleted session): start one rather than fail.
                self.redirect(self.url(f"interview/{interview.name}"), status=303)
                return
            run = self.interviews.run(interview, record, self.viewer(record))
            try:
                async with self.api_context(interview, record):
                    outcome = run.submit(self.form_values())
                    interview_help = run.render(interview.help, paragraphs=True,
                                                where="interview help")
            except InterviewRuntimeError as error:
                return self.show_problem(interview, record, error)
            if outcome.page is not None:
                self.set_status(422)
                self.show(interview, record, outcome.page, interview_help)
                return
            if outcome.accepted:
                await self.save(record, interview)
        # Post/redirect/get: reloading the next page never re-submits the form.
        self.redirect(self.url(f"interview/{interview.name}"), status=303)

    def form_values(self) -> dict[str, list[str]]:
        """The posted fields, undecoded bytes made text; values are not stripped here
        because passwords keep their spaces."""
        return {name: [v.decode("utf-8", errors="replace") for v in values]
                for name, values in self.request.body_arguments.items()}


class BackHandler(InterviewBase):
    """POST: back to the previous screen (the way out of a screen that cannot be shown)."""

    async def post(self, name: str) -> None:
        interview = self.interview_named(name)
        async with self.record_lock(interview):
            record = await self.held_session(interview)
            if record is not None and self.interviews.run(
                    interview, record, self.viewer(record)).step_back():
                await self.save(record, interview)
        self.redirect(self.url(f"interview/{interview.name}"), status=303)


class RestartHandler(InterviewBase):
    """POST: leave the current session and start a new one of the same interview."""

    async def post(self, name: str) -> None:
        interview = self.interview_named(name)
        record = self.new_record(interview)
        try:
            async with self.api_context(interview, record):
                self.interviews.run(interview, record, self.viewer(record)).current_screen()
        except InterviewRuntimeError as error:
            return self.show_problem(interview, None, error)
        await self.save(record, interview)
        self.grant_session(interview.name, record.id)
        self.redirect(self.url(f"interview/{interview.name}"), status=303)


class ShareHandler(InterviewBase):
    """share/<session id>: join a session.

    GET is the share link of a multi-user session: it grants the session to this
    browser and opens it. An operator joining somebody else's session (any interview)
    is recorded in the audit log, so that takes a POST with the XSRF token, from the
    Monitor's Join button or from the page GET shows the operator to confirm."""

    async def get(self, session_id: str) -> None:
        record, interview = await self.shared(session_id)
        if self.joins_as_operator(record):
            self.render_page("share_confirm.html", interview=interview, session_id=record.id)
            return
        self.open_shared(record, interview, status=302)

    async def post(self, session_id: str) -> None:
        record, interview = await self.shared(session_id)
        user = self.current_user
        if self.joins_as_operator(record):
            await self.store.add_audit(AuditEntry(
                actor_id=user.id, actor_email=user.email, action="join", session_id=record.id,
                detail=interview.name))
        self.open_shared(record, interview, status=303)

    async def shared(self, session_id: str) -> tuple[SessionRecord, Interview]:
        record = await self.store.get_session(session_id)
        interview = self.interviews.get(record.interview) if record else None
        if record is None or interview is None:
            raise tornado.web.HTTPError(404, "This share link does not lead to a session.")
        user = self.current_user
        if not interview.multi_user and not (user and user.is_operator):
            raise tornado.web.HTTPError(403, "This interview cannot be shared.")
        return record, interview

    def joins_as_operator(self, record: SessionRecord) -> bool:
        user = self.current_user
        return bool(user and user.is_operator and record.owner_id != user.id)

    def open_shared(self, record: SessionRecord, interview: Interview, status: int) -> None:
        self.grant_session(interview.name, record.id)
        self.redirect(self.url(f"interview/{interview.name}"), status=status)


class NotFoundHandler(BaseHandler):
    """Every URL no route matches: the 404 page."""

    async def prepare(self) -> None:
        await super().prepare()
        raise tornado.web.HTTPError(404, "There is no page at this address.")


routes = [
    ("", IndexHandler),
    (r"interview/([A-Za-z0-9_-]+)", InterviewHandler),
    (r"interview/([A-Za-z0-9_-]+)/restart", RestartHandler),
    (r"interview/([A-Za-z0-9_-]+)/back", BackHandler),
    (r"share/([A-Za-z0-9_-]+)", ShareHandler),
]
