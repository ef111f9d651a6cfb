"""Sign in, sign out, XSRF, operator-only pages and the admin pages, over real HTTP."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import tornado.httpclient

from state.accounts import users
from tests.conftest import LiveServer

PASSWORD = "correct horse battery"
WRONG = "Email or password is incorrect."


def set_cookies(response: tornado.httpclient.HTTPResponse) -> dict[str, str]:
    """Raw Set-Cookie header per cookie name."""
    headers = {}
    for header in response.headers.get_list("Set-Cookie"):
        headers[header.split("=", 1)[0]] = header
    return headers


def cookie_value(response: tornado.httpclient.HTTPResponse, name: str) -> str:
    parsed = SimpleCookie()
    parsed.load(set_cookies(response)[name])
    return parsed[name].value


async def form_tokens(server: LiveServer, path: str, cookie: str = "") -> tuple[str, str]:
    """GET the page holding a form; return (cookie header with _xsrf added, hidden _xsrf value)."""
    response = await server.fetch(path, cookie=cookie)
    assert response.code == 200, response.code
    field = re.search(r'name="_xsrf" value="([^"]+)"', response.body.decode())
    assert field, "form has no hidden _xsrf field"
    xsrf = cookie_value(response, "_xsrf") if "_xsrf" in set_cookies(response) else field.group(1)
    return "; ".join(c for c in (cookie, f"_xsrf={xsrf}") if c), field.group(1)


async def post_form(server: LiveServer, path: str, data: dict, cookie: str = "",
                    form_path: str | None = None) -> tornado.httpclient.HTTPResponse:
    """POST `data` like a browser would: from the form page, with its XSRF cookie and field."""
    jar, token = await form_tokens(server, form_path or path, cookie)
    return await server.fetch(path, method="POST", body={**data, "_xsrf": token}, cookie=jar)


async def log_in(server: LiveServer, email: str, password: str = PASSWORD,
                 **extra: str) -> tornado.httpclient.HTTPResponse:
    return await post_form(server, "login", {"email": email, "password": password, **extra})


def location(response: tornado.httpclient.HTTPResponse) -> str:
    return response.headers.get("Location", "")


# the login page -------------------------------------------------------------

async def test_login_page_has_labelled_email_and_password_and_a_sign_in_button(
        live_server: LiveServer) -> None:
    page = (await live_server.fetch("login")).body.decode()
    for label, kind in (("Email", "email"), ("Password", "password")):
        found = re.search(rf'<label for="([^"]+)">{label}</label>', page)
        assert found, f"no label {label}"
        assert re.search(rf'<input type="{kind}" id="{found.group(1)}"', page)
    assert re.search(r'<button type="submit">Sign in</button>', page)


async def test_wrong_password_and_unknown_email_get_the_same_answer(
        live_server: LiveServer) -> None:
    await live_server.add_user("ann@example.org", ("advocate",))
    wrong_password = await log_in(live_server, "ann@example.org", "not the password")
    unknown_email = await log_in(live_server, "nobody@example.org", PASSWORD)
    assert wrong_password.code == unknown_email.code == 200
    for response in (wrong_password, unknown_email):
        body = response.body.decode()
        assert WRONG in body and 'role="alert"' in body
        assert "lh_user" not in set_cookies(response)


async def test_correct_login_sets_a_protected_cookie_and_redirects(
        live_server: LiveServer) -> None:
    await live_server.add_user("ann@example.org", ("advocate",))
    response = await log_in(live_server, "Ann@Example.org")
    assert response.code == 302
    assert location(response) == live_server.root + "monitor"
    header = set_cookies(response)["lh_user"]
    assert "httponly" in header.lower()
    assert "samesite=lax" in header.lower()


async def test_plain_user_lands_on_the_interview_list(live_server: LiveServer) -> None:
    await live_server.add_user("bob@example.org")
    response = await log_in(live_server, "bob@example.org")
    assert response.code == 302 and location(response) == live_server.root


async def test_signed_in_cookie_identifies_the_user(live_server: LiveServer) -> None:
    await live_server.add_user("ann@example.org", ("admin",))
    response = await log_in(live_server, "ann@example.org")
    cookie = f"lh_user={cookie_value(response, 'lh_user')}"
    page = await live_server.fetch("admin/users", cookie=cookie)
    assert page.code == 200 and "ann@example.org" in page.body.decode()


async def test_next_is_honoured_for_a_local_path(live_server: LiveServer) -> None:
    await live_server.add_user("ann@example.org", ("admin",))
    response = await log_in(live_server, "ann@example.org", next="/admin/audit")
    assert location(response) == "/admin/audit"


async def test_next_pointing_elsewhere_is_ignored(live_server: LiveServer) -> None:
    await live_server.add_user("ann@example.org", ("admin",))
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:1"):
        response = await log_in(live_server, "ann@example.org", next=target)
        assert location(response) == "/monitor", target


async def test_login_form_keeps_a_local_next(live_server: LiveServer) -> None:
    page = (await live_server.fetch("login?next=/admin/users")).body.decode()
    assert '<input type="hidden" name="next" value="/admin/users">' in page


# XSRF and sign out ----------------------------------------------------------

async def test_posts_without_xsrf_token_are_refused(live_server: LiveServer) -> None:
    admin = await live_server.add_user("ann@example.org", ("admin",))
    cookie = await live_server.user_cookie(admin)
    login = await live_server.fetch("login", method="POST",
                                    body={"email": "ann@example.org", "password": PASSWORD})
    logout = await live_server.fetch("logout", method="POST", body={}, cookie=cookie)
    change = await live_server.fetch("admin/users", method="POST", cookie=cookie, body={
        "action": "set-privilege", "user_id": admin.id, "privilege": "user"})
    assert (login.code, logout.code, change.code) == (403, 403, 403)
    assert "lh_user" not in set_cookies(login)
    assert (await live_server.services.store.get_user(admin.id)).is_admin


async def test_logout_clears_the_cookie(live_server: LiveServer) -> None:
    user = await live_server.add_user("bob@example.org")
    cookie = await live_server.user_cookie(user)
    response = await post_form(live_server, "logout", {}, cookie=cookie)
    assert response.code == 302 and location(response) == live_server.root + "logout"
    cleared = set_cookies(response)["lh_user"]
    assert re.search(r"lh_user=(\"\")?;", cleared) and "expires=" in cleared.lower()
    after = (await live_server.fetch("logout")).body.decode()
    assert "You are signed out." in after


async def test_logout_page_offers_a_sign_out_button(live_server: LiveServer) -> None:
    user = await live_server.add_user("bob@example.org")
    cookie = await live_server.user_cookie(user)
    page = (await live_server.fetch("logout", cookie=cookie)).body.decode()
    assert 'action="/logout"' in page and ">Sign out</button>" in page


async def test_tampered_user_cookie_means_signed_out(live_server: LiveServer) -> None:
    admin = await live_server.add_user("ann@example.org", ("admin",))
    name, value = (await live_server.user_cookie(admin)).split("=", 1)
    tampered = f"{name}={value[:-4]}AAAA"
    forged = f"lh_user={admin.id}"
    for cookie in (tampered, forged):
        response = await live_server.fetch("admin/users", cookie=cookie)
        assert response.code == 302
        assert location(response).startswith(live_server.root + "login")


# operator and admin pages -----------------------------------------------------

async def test_anonymous_visitors_are_sent_to_login(live_server: LiveServer) -> None:
    for path in ("monitor", "admin/users", "admin/audit"):
        response = await live_server.fetch(path)
        assert response.code == 302, path
        target = urlsplit(location(response))
        assert target.path == live_server.root + "login"
        assert parse_qs(target.query)["next"] == [live_server.root + path]


async def test_plain_users_are_refused_operator_and_admin_pages(
        live_server: LiveServer) -> None:
    cookie = await live_server.user_cookie(await live_server.add_user("bob@example.org"))
    for path in ("monitor", "admin/users", "admin/audit"):
        response = await live_server.fetch(path, cookie=cookie)
        assert response.code == 403, path


async def test_advocates_may_not_use_admin_pages(live_server: LiveServer) -> None:
    ann = await live_server.add_user("ann@example.org", ("advocate",))
    cookie = await live_server.user_cookie(ann)
    assert (await live_server.fetch("monitor", cookie=cookie)).code == 200
    assert (await live_server.fetch("admin/users", cookie=cookie)).code == 403


async def test_admin_page_labels_each_privilege_picker(live_server: LiveServer) -> None:
    admin = await live_server.add_user("ann@example.org", ("admin",))
    await live_server.add_user("bob@example.org")
    page = (await live_server.fetch("admin/users",
                                    cookie=await live_server.user_cookie(admin))).body.decode()
    for email in ("ann@example.org", "bob@example.org"):
        label = re.search(rf'<label [^>]*for="([^"]+)">Privilege for {re.escape(email)}</label>',
                          page)
        assert label, email
        assert f'<select id="{label.group(1)}" name="privilege">' in page


async def test_admin_changes_a_privilege_and_it_is_audited(live_server: LiveServer) -> None:
    admin = await live_server.add_user("ann@example.org", ("admin",))
    bob = await live_server.add_user("bob@example.org")
    cookie = await live_server.user_cookie(admin)
    response = await post_form(live_server, "admin/users", {
        "action": "set-privilege", "user_id": bob.id, "privilege": "advocate"}, cookie=cookie)
    assert response.code == 200
    assert "bob@example.org is now advocate." in response.body.decode()
    assert (await live_server.services.store.get_user(bob.id)).privileges == ["advocate"]
    audit = (await live_server.fetch("admin/audit", cookie=cookie)).body.decode()
    assert "set privilege" in audit and "bob@example.org is now advocate" in audit


async def test_the_last_admin_cannot_be_demoted(live_server: LiveServer) -> None:
    admin = await live_server.add_user("ann@example.org", ("admin",))
    response = await post_form(live_server, "admin/users", {
        "action": "set-privilege", "user_id": admin.id, "privilege": "advocate"},
        cookie=await live_server.user_cookie(admin))
    assert response.code == 400
    assert "only administrator" in response.body.decode()
    assert (await live_server.services.store.get_user(admin.id)).is_admin


async def test_admin_adds_a_user_with_a_generated_password(live_server: LiveServer) -> None:
    admin = await live_server.add_user("ann@example.org", ("admin",))
    response = await post_form(live_server, "admin/users", {
        "action": "add", "email": "carl@example.org", "first_name": "Carl",
        "last_name": "", "privilege": "advocate", "password": ""},
        cookie=await live_server.user_cookie(admin))
    body = response.body.decode()
    assert response.code == 200 and "Created carl@example.org (advocate)." in body
    password = re.search(r"shown only this once\):\s*<code>([^<]+)</code>", body).group(1)
    store = live_server.services.store
    assert await users.find_user_password(store, "carl@example.org", password)


async def test_names_typed_by_people_are_escaped(live_server: LiveServer) -> None:
    admin = await live_server.add_user("ann@example.org", ("admin",))
    await live_server.add_user("eve@example.org", first_name="<script>alert(1)</script>")
    page = (await live_server.fetch("admin/users",
                                    cookie=await live_server.user_cookie(admin))).body.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_audit_log_is_newest_first(live_server: LiveServer) -> None:
    admin = await live_server.add_user("ann@example.org", ("admin",))
    store = live_server.services.store
    await users.audit(store, admin, "first action", "one")
    await users.audit(store, admin, "second action", "two")
    page = (await live_server.fetch("admin/audit",
                                    cookie=await live_server.user_cookie(admin))).body.decode()
    assert page.index("second action") < page.index("first action")


# throttling and registration ---------------------------------------------------

async def test_repeated_failures_are_slowed_down(live_server: LiveServer) -> None:
    await live_server.add_user("ann@example.org", ("advocate",))
    for _ in range(5):
        assert WRONG in (await log_in(live_server, "ann@example.org", "guess")).body.decode()
    refused = await log_in(live_server, "ann@example.org", PASSWORD)
    assert refused.code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many failed sign-in attempts" in refused.body.decode()
    assert "lh_user" not in set_cookies(refused)


async def test_registration_is_off_by_default(live_server: LiveServer) -> None:
    assert (await live_server.fetch("register")).code == 404


async def test_registration_creates_a_plain_user(live_server: LiveServer) -> None:
    live_server.services.config.allow_registration = True
    response = await post_form(live_server, "register", {
        "email": "new@example.org", "first_name": "New", "last_name": "Person",
        "password": PASSWORD, "password_again": PASSWORD, "privilege": "admin"})
    # Not signed in by the answer (see tests/test_security_rights.py: it must not tell
    # new emails from taken ones); signing in with the chosen password works.
    assert response.code == 200 and "lh_user" not in set_cookies(response)
    user = await live_server.services.store.get_user_by_email("new@example.org")
    assert user is not None and user.privileges == ["user"]
    assert (await log_in(live_server, "new@example.org")).code == 302


async def test_registration_keeps_values_and_explains_errors(live_server: LiveServer) -> None:
    live_server.services.config.allow_registration = True
    response = await post_form(live_server, "register", {
        "email": "new@example.org", "first_name": "New", "last_name": "",
        "password": "short", "password_again": "short"})
    body = response.body.decode()
    assert response.code == 400 and 'role="alert"' in body
    assert "at least 8 characters" in body and 'value="new@example.org"' in body


async def test_pages_refuse_framing_and_sniffing(live_server):
    response = await live_server.fetch("login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_xsrf_cookie_is_http_only(live_server):
    response = await live_server.fetch("login")
    cookies = response.headers.get_list("Set-Cookie")
    assert any(c.startswith("_xsrf=") and "HttpOnly" in c for c in cookies)
