"""Sign in, sign out and (when the config allows it) register.

Every wrong-credentials answer is the same sentence, whatever was wrong, and
repeated failures are slowed down by a `LoginThrottle` kept per application.
Registering answers the same whether or not the email has an account already.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

import tornado.web

from handlers import rights
from handlers.base import BaseHandler
from state.accounts import users
from state.accounts.throttle import LoginThrottle

WRONG_CREDENTIALS = "Email or password is incorrect."
# The one answer to a registration that passed the checks: true whether the account
# was made now or existed before (it is then unchanged), so it tells nobody which.
REGISTERED = ("If {email} had no account here, it has one now: sign in with this email "
              "and the password you just chose. If it had an account already, that "
              "account was not changed: sign in with its own password.")


def safe_next(handler: BaseHandler, target: str | None) -> str | None:
    """`target` if it is a local path under the url root, else None (no open redirects)."""
    if not target or len(target) > 2000:
        return None
    root = handler.config.url_root
    # Backslashes and control characters are read as "//" or stripped by some
    # browsers, turning a local-looking path into another site.
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    if not target.startswith(root):
        return None
    if parts.path.rstrip("/") in (handler.url("login"), handler.url("logout")):
        return None
    return target


def landing_page(handler: BaseHandler) -> str:
    """Where a person goes after signing in without a `next`: operators to the Monitor."""
    user = handler.current_user
    return handler.url("monitor") if user and user.is_operator else handler.url("")


class LoginHandler(BaseHandler):
    """GET: the sign-in form. POST: check the credentials, set the cookie, redirect."""

    def get(self) -> None:
        self.show_form()

    def show_form(self, email: str = "", error: str = "") -> None:
        self.render_page(
            "login.html", email=email, error=error,
            next=safe_next(self, self.get_argument("next", None)) or "",
            allow_registration=self.config.allow_registration,
        )

    async def post(self) -> None:
        email = self.get_body_argument("email", "").strip()
        password = self.get_body_argument("password", "")
        ip = self.request.remote_ip or ""
        throttle: LoginThrottle = self.settings["login_throttle"]
        wait = throttle.retry_after(email, ip)
        if wait > 0:
            self.set_status(429)
            self.set_header("Retry-After", str(math.ceil(wait)))
            return self.show_form(email, (
                "Too many failed sign-in attempts. "
                f"Please wait {math.ceil(wait)} seconds and try again."))
        user = await users.find_user_password(self.store, email, password)
        if user is None:
            throttle.record_failure(email, ip)
            return self.show_form(email, WRONG_CREDENTIALS)
        throttle.record_success(email, ip)
        previous = self.signed_in  # ends with this sign-in, and so do its sockets
        await self.sign_in(user)
        if previous is not None:
            rights.sign_in_ended(self.settings["sockets"], previous)
        self.redirect(safe_next(self, self.get_body_argument("next", None)) or landing_page(self))


class LogoutHandler(BaseHandler):
    """GET: a small "Sign out" form (or "you are signed out"). POST: end the sign-in,
    close the sockets opened with it, clear the cookie."""

    def get(self) -> None:
        self.render_page("logout.html")

    async def post(self) -> None:
        ended = await self.sign_out()
        if ended is not None:
            rights.sign_in_ended(self.settings["sockets"], ended)
        self.redirect(self.url("logout"))


class RegisterHandler(BaseHandler):
    """Self-service `user` accounts, only when `allow registration` is on (404 otherwise)."""

    async def prepare(self) -> None:
        await super().prepare()
        if not self.config.allow_registration:
            raise tornado.web.HTTPError(404, "This page does not exist.")

    def get(self) -> None:
        self.show_form({})

    def show_form(self, values: dict[str, str], error: str = "") -> None:
        if error:
            self.set_status(400)
        self.render_page("register.html", values=values, error=error,
                         min_password_length=users.MIN_PASSWORD_LENGTH)

    async def post(self) -> None:
        values = {name: self.get_body_argument(name, "").strip()
                  for name in ("email", "first_name", "last_name")}
        password = self.get_body_argument("password", "")
        if password != self.get_body_argument("password_again", ""):
            return self.show_form(values, "The two passwords do not match.")
        try:
            await users.create_account(
                self.store, values["email"], password, ["user"],
                values["first_name"], values["last_name"])
        except users.EmailTaken:
            pass  # answered like a new account: see REGISTERED
        except ValueError as error:
            return self.show_form(values, str(error))
        # Not signed in here: a cookie for new accounts only would tell them apart.
        self.render_page("registered.html",
                         message=REGISTERED.format(email=users.normalize_email(values["email"])))


routes = [
    (r"/login", LoginHandler),
    (r"/logout", LogoutHandler),
    (r"/register", RegisterHandler),
]
