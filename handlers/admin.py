"""Administrator pages: the accounts list (privileges, add user) and the audit log."""

from __future__ import annotations

import tornado.web

from handlers import rights
from handlers.base import BaseHandler, admin_required
from state.accounts import users
from state.store.base import PRIVILEGES

AUDIT_PAGE_SIZE = 500


class UsersHandler(BaseHandler):
    """GET: every account with a privilege picker per row. POST: change one, or add one."""

    @admin_required
    async def get(self) -> None:
        await self.show()

    async def show(self, notice: str = "", error: str = "", new_password: str = "",
                   add_values: dict[str, str] | None = None) -> None:
        if error:
            self.set_status(400)
        self.render_page(
            "admin_users.html", users=await self.store.list_users(), privileges=PRIVILEGES,
            notice=notice, error=error, new_password=new_password, add_values=add_values or {},
        )

    @admin_required
    async def post(self) -> None:
        action = self.get_body_argument("action", "")
        if action == "set-privilege":
            await self.set_privilege()
        elif action == "add":
            await self.add_user()
        else:
            raise tornado.web.HTTPError(400, "Unknown action.")

    async def set_privilege(self) -> None:
        privilege = self.get_body_argument("privilege", "")
        async with self.settings["account_lock"]:
            user = await self.store.get_user(self.get_body_argument("user_id", ""))
            if user is None:
                return await self.show(error="That account no longer exists.")
            if user.privileges == [privilege]:
                return await self.show(notice=f"{user.email} is already {privilege}.")
            try:
                await users.set_privilege(self.store, user, privilege)
            except ValueError as error:
                return await self.show(error=str(error))
        await users.audit(self.store, self.current_user, "set privilege",
                             f"{user.email} is now {privilege}")
        # Every sign-in of the account ended with the change; its open sockets close now.
        rights.account_changed(self.settings["sockets"], user.id, user)
        if user.id == self.current_user.id:
            # Who changed their own privilege stays signed in here, with a new sign-in.
            self.signed_in = None
            await self.sign_in(user)
            if not user.is_admin:
                # Admins who gave up their own admin privilege can no longer see this page.
                return self.redirect(self.url(""))
        await self.show(notice=f"{user.email} is now {privilege}.")

    async def add_user(self) -> None:
        values = {name: self.get_body_argument(name, "").strip()
                  for name in ("email", "first_name", "last_name", "privilege")}
        password = self.get_body_argument("password", "")
        generated = not password
        if generated:
            password = users.generate_password()
        try:
            user = await users.create_account(
                self.store, values["email"], password, [values["privilege"]],
                values["first_name"], values["last_name"])
        except ValueError as error:
            return await self.show(error=str(error), add_values=values)
        await users.audit(self.store, self.current_user, "add user",
                             f"{user.email} as {values['privilege']}")
        await self.show(notice=f"Created {user.email} ({values['privilege']}).",
                        new_password=password if generated else "")


class AuditHandler(BaseHandler):
    """The audit log (observe, control, join, block, account changes), newest first."""

    @admin_required
    async def get(self) -> None:
        entries = await self.store.list_audit(limit=AUDIT_PAGE_SIZE)
        self.render_page("admin_audit.html", entries=entries, limit=AUDIT_PAGE_SIZE)


routes = [
    (r"/admin/users", UsersHandler),
    (r"/admin/audit", AuditHandler),
]
