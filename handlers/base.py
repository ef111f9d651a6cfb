"""Base handlers: current user, Jinja2 rendering, JSON errors, operator guard.

Everything the handlers share comes from `self.settings`, built once by
`server.make_app()`; handlers never keep state of their own between requests.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import tornado.web

from state.accounts import sign_in as sign_ins
from state.config import Config
from state.interview.library import Interview, Viewer
from state.livehelp.api import current_context, get_chat_log, load_context
from state.store.base import SessionRecord, SignIn, Store, StoreUnavailable, User, new_id

log = logging.getLogger(__name__)

# Names a sign-in the store knows (state/accounts/sign_in.py), which ends on sign-out,
# password or privilege change, idleness and age (config `sign in:`).
USER_COOKIE = "lh_user"
BROWSER_COOKIE = "lh_browser"
SESSIONS_COOKIE = "lh_sessions"
# Signed cookies older than this are refused (the browser and session grants).
COOKIE_DAYS = 30
# Cluster mode: an interview's page requests go where its session's sockets go (the
# session's home process): nginx hashes this cookie, which holds what a socket's path
# holds, the session id (docs/deployment.md). Scoped to the interview's pages.
HOME_COOKIE = "lh_home"


class Services:
    """The application's parts, from `self.settings` (a handler's, or a stand-in's:
    handlers/home_monitor.py)."""

    settings: dict[str, Any]

    @property
    def config(self) -> Config:
        return self.settings["livehelp_config"]

    @property
    def store(self) -> Store:
        return self.settings["store"]

    @property
    def livehelp(self):  # state.livehelp.model.LiveHelp
        return self.settings["livehelp"]

    @property
    def interviews(self):  # state.interview.library.InterviewLibrary
        return self.settings["interviews"]

    @property
    def codes(self):  # state.phone.codes.AccessCodes
        return self.settings["codes"]


class BaseHandler(Services, tornado.web.RequestHandler):
    """Page handler: resolves the signed-in user in `prepare()`, renders Jinja2 templates."""

    current_user: User | None
    # The sign-in the `lh_user` cookie names, when it is live; sockets remember it.
    signed_in: SignIn | None = None

    def set_default_headers(self) -> None:
        # No page of ours is meant to be framed (clickjacking on Block, Take over, ...),
        # sniffed into another type, or to leak its URL (session ids) to other sites.
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Content-Security-Policy", "frame-ancestors 'none'")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")

    async def prepare(self) -> None:
        self.current_user = None
        self.signed_in = None
        lifetime = self.config.sign_in
        raw = self.get_signed_cookie(USER_COOKIE, max_age_days=lifetime.max_days)
        if raw:
            found = await sign_ins.look_up(self.store, raw.decode(errors="replace"), lifetime)
            if found:
                self.signed_in, self.current_user = found

    # URLs -----------------------------------------------------------------
    def url(self, path: str = "") -> str:
        """Path of a page under the configured url root."""
        return self.config.url_root + path.lstrip("/")

    def public_base_url(self) -> str:
        """scheme://host of this server as the browser (or Twilio) sees it."""
        scheme, host = self.request.protocol, self.request.host
        if self.config.behind_https_load_balancer:
            scheme = self.request.headers.get("X-Forwarded-Proto", "https").split(",")[0].strip()
            host = self.request.headers.get("X-Forwarded-Host", host).split(",")[0].strip()
        return f"{scheme}://{host}"

    def get_login_url(self) -> str:
        return self.url("login")

    @property
    def is_https(self) -> bool:
        """The browser reached us over https: directly, or through the load balancer
        (which server.py trusts for X-Forwarded-Proto only when configured behind one)."""
        return self.request.protocol == "https"

    # cookies --------------------------------------------------------------
    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        """Every cookie is `Secure` over https; this covers Tornado's `_xsrf` cookie,
        whose settings (server.py) are the same for every request."""
        if self.is_https:
            kwargs["secure"] = True
        super().set_cookie(name, value, *args, **kwargs)

    def set_app_cookie(self, name: str, value: str, days: float = COOKIE_DAYS) -> None:
        self.set_signed_cookie(
            name, value, expires_days=days, httponly=True, samesite="Lax",
            path=self.config.url_root,
        )

    async def sign_in(self, user: User) -> None:
        """Sign `user` in in this browser: a new sign-in (a new id at every sign-in, so
        a cookie planted beforehand never becomes signed in); one this browser had ends."""
        if self.signed_in is not None:
            await self.store.delete_sign_ins([self.signed_in.id_hash])
        sign_in_id = await sign_ins.create(self.store, user.id)
        self.set_app_cookie(USER_COOKIE, sign_in_id, days=self.config.sign_in.max_days)
        self.current_user = user

    async def sign_out(self) -> SignIn | None:
        """End this browser's sign-in in the store and clear its cookie; return the
        sign-in that ended (None when there was none)."""
        ended, self.signed_in = self.signed_in, None
        if ended is not None:
            await self.store.delete_sign_ins([ended.id_hash])
        self.clear_cookie(USER_COOKIE, path=self.config.url_root)
        return ended

    @property
    def browser_id(self) -> str:
        """A random id for this browser, kept in a signed cookie; identifies anonymous users."""
        if not hasattr(self, "_browser_id"):
            raw = self.get_signed_cookie(BROWSER_COOKIE, max_age_days=365)
            self._browser_id = raw.decode() if raw else new_id()
            if not raw:
                self.set_app_cookie(BROWSER_COOKIE, self._browser_id)
        return self._browser_id

    @property
    def participant_key(self) -> str:
        """Who is at this browser: "u:<user id>" when signed in, else "b:<browser id>"."""
        if self.current_user:
            return f"u:{self.current_user.id}"
        return f"b:{self.browser_id}"

    def session_grants(self) -> dict[str, str]:
        """Interview name -> session id this browser may use (from a signed cookie)."""
        raw = self.get_signed_cookie(SESSIONS_COOKIE, max_age_days=COOKIE_DAYS)
        if not raw:
            return {}
        try:
            grants = json.loads(raw)
        except ValueError:
            return {}
        return grants if isinstance(grants, dict) else {}

    def grant_session(self, interview: str, session_id: str) -> None:
        grants = self.session_grants()
        grants[interview] = session_id
        self.set_app_cookie(SESSIONS_COOKIE, json.dumps(grants))

    def show_home(self, interview: str, session_id: str) -> None:
        """Cluster mode: where this interview's next page requests must go (HOME_COOKIE)."""
        if self.settings.get("cluster") is not None and self.get_cookie(HOME_COOKIE) != session_id:
            self.set_cookie(HOME_COOKIE, session_id, expires_days=COOKIE_DAYS, httponly=True,
                            samesite="Lax", path=f"{self.config.url_root}interview/{interview}")

    def may_use_session(self, session_id: str) -> bool:
        return session_id in self.session_grants().values()

    # interview runs ------------------------------------------------------------
    def viewer(self, record: SessionRecord) -> Viewer:
        """Who is looking at `record` from this browser."""
        user = self.current_user
        return Viewer(
            participant=self.participant_key,
            is_operator=bool(user and user.is_operator),
            is_owner=bool(user and record.owner_id == user.id),
        )

    @contextlib.asynccontextmanager
    async def api_context(self, interview: Interview,
                          record: SessionRecord) -> AsyncIterator[None]:
        """Let code blocks and templates of this run call the live-help API on `record`."""
        context = await load_context(record, self.livehelp, self.participant_key,
                                     with_chat_log=interview.mentions(get_chat_log.__name__))
        token = current_context.set(context)
        try:
            yield
        finally:
            current_context.reset(token)

    # rendering ------------------------------------------------------------
    def template_context(self) -> dict[str, Any]:
        return {
            "current_user": self.current_user,
            "url": self.url,
            "xsrf_form_html": self.xsrf_form_html,
            "xsrf_token": self.xsrf_token.decode(),
            "config": self.config,
            "static_url": self.static_url,
            "request": self.request,
        }

    def render_page(self, template: str, **context: Any) -> None:
        env = self.settings["jinja"]
        self.finish(env.get_template(template).render(**self.template_context(), **context))

    def error_message(self, status_code: int, exc_info: tuple | None) -> tuple[int, str]:
        """The status to answer and words for people: a store outage is a 503 with a
        calm message, an HTTPError carries its own message, anything else its reason."""
        exc = (exc_info or (None, None))[1]
        if isinstance(exc, StoreUnavailable):
            self.set_status(503)
            return 503, ("The database is not reachable right now. Nothing was lost; "
                         "please try again shortly.")
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message and status_code < 500:
            return status_code, exc.log_message % exc.args if exc.args else exc.log_message
        return status_code, self._reason

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        status, message = self.error_message(status_code, kwargs.get("exc_info"))
        env = self.settings["jinja"]
        self.finish(env.get_template("error.html").render(
            **self.template_context(), status=status, message=message))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, StoreUnavailable):
            log.warning("store unavailable: %s", value)
            return
        super().log_exception(typ, value, tb)


class JsonHandler(BaseHandler):
    """Handler answering JSON; refuses with 403 rather than redirecting to the login page."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        status, message = self.error_message(status_code, kwargs.get("exc_info"))
        self.finish({"error": message, "status": status})


Handler = Callable[..., Awaitable[None] | None]


def _require(allowed: Callable[[User], bool], who: str) -> Callable[[Handler], Handler]:
    """Decorator factory: a signed-out visitor of a page is sent to /login, anyone
    else who is not `allowed` (and any non-page request) gets 403 naming `who`."""

    def decorator(method: Handler) -> Handler:
        @functools.wraps(method)
        def wrapper(self: BaseHandler, *args: Any, **kwargs: Any):
            if self.current_user is None:
                if self.request.method in ("GET", "HEAD") and not isinstance(self, JsonHandler):
                    return self.redirect(self.get_login_url() + "?next=" +
                                         tornado.escape.url_escape(self.request.uri))
                raise tornado.web.HTTPError(403, f"Sign in as {who} to use this page.")
            if not allowed(self.current_user):
                raise tornado.web.HTTPError(403, f"This page is for {who} only.")
            return method(self, *args, **kwargs)

        return wrapper

    return decorator


operator_required = _require(lambda user: user.is_operator, "an operator (admin or advocate)")
admin_required = _require(lambda user: user.is_admin, "an administrator")
