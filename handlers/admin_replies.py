"""Administrators: the shared canned replies every operator's `/` picker offers. Add,
edit and delete with POST forms (XSRF); each change is audited and reaches every open
Monitor at once (state/livehelp/desk_rules.py publishes it)."""

from __future__ import annotations

import tornado.web

from handlers.base import BaseHandler, admin_required
from state.accounts import users
from state.livehelp.desk_rules import MAX_REPLY_CHARS, MAX_TITLE_CHARS, Desk
from state.livehelp.errors import LiveHelpError
from state.store.base import CannedReply


class RepliesHandler(BaseHandler):
    """GET: the shared replies and a form to add one (`?edit=<id>`: to change that one).
    POST `action` save (with `id` when editing) or delete."""

    @property
    def desk(self) -> Desk:
        return Desk(self.store, self.settings["hub"])

    @admin_required
    async def get(self) -> None:
        editing = None
        edit_id = self.get_query_argument("edit", "")
        if edit_id:
            try:
                editing = await self.desk.find_reply(None, edit_id)
            except LiveHelpError:
                raise tornado.web.HTTPError(404, "There is no such shared reply: it may "
                                            "have been deleted.") from None
        await self.show(editing=editing)

    async def show(self, notice: str = "", error: str = "", editing: CannedReply | None = None,
                   values: dict[str, str] | None = None) -> None:
        if error:
            self.set_status(400)
        if values is None:
            values = {"title": editing.title, "text": editing.text} if editing else {}
        self.render_page("admin_replies.html", replies=await self.desk.shared_replies(),
                         notice=notice, error=error, editing=editing, values=values,
                         max_title=MAX_TITLE_CHARS, max_text=MAX_REPLY_CHARS)

    @admin_required
    async def post(self) -> None:
        action = self.get_body_argument("action", "")
        if action == "save":
            await self.save()
        elif action == "delete":
            await self.delete()
        else:
            raise tornado.web.HTTPError(400, "Unknown action.")

    async def save(self) -> None:
        reply_id = self.get_body_argument("id", "") or None
        values = {name: self.get_body_argument(name, "") for name in ("title", "text")}
        editing = None
        try:
            if reply_id:
                editing = await self.desk.find_reply(None, reply_id)
            reply = await self.desk.save_reply(None, reply_id, values["title"], values["text"])
        except LiveHelpError as refusal:
            return await self.show(error=refusal.message, editing=editing, values=values)
        action = "edit shared reply" if reply_id else "add shared reply"
        await users.audit(self.store, self.current_user, action, reply.title)
        await self.show(notice=f"Saved “{reply.title}”. Every Monitor offers it now.")

    async def delete(self) -> None:
        try:
            reply = await self.desk.delete_reply(None, self.get_body_argument("id", ""))
        except LiveHelpError as refusal:
            return await self.show(error=refusal.message)
        await users.audit(self.store, self.current_user, "delete shared reply", reply.title)
        await self.show(notice=f"Deleted “{reply.title}”.")


routes = [(r"/admin/replies", RepliesHandler)]
