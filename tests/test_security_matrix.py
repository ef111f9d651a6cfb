"""Security matrix: every route, socket and socket message type × every kind of person.

One table-driven test (`test_security_matrix`) asserts allow or deny per cell from
the explicit tables below; the other tests cover the WebSocket origin check, cookie
flags, XSRF on every POST route, and ids and codes drawn from `secrets`.

Personas: `anonymous` (a fresh browser), `interviewee` (a signed-in plain user whose
browser holds session S), `other` (an anonymous browser holding another session T),
`advocate` and `admin` (signed-in operators holding no session).
"""

from __future__ import annotations

import json
import random
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web
from twilio.request_validator import RequestValidator

import server as livehelp_server
from state.config import Config, TwilioConfig
from state.store.base import ChatMessage, SessionRecord, User, new_id
from tests.conftest import LiveServer, receive, serving

PERSONAS = ("anonymous", "interviewee", "other", "advocate", "admin")
OK, LOGIN, FORBIDDEN = "ok", "login", "forbidden"  # LOGIN and FORBIDDEN are denials
TOKEN = "matrix-test-token"
INTERVIEW = "fruit"  # single-user, live help on
SHARED_INTERVIEW = "peer"  # multi user
ID_SHAPE = re.compile(r"^[A-Za-z0-9_-]{22}$")  # 16 bytes from secrets.token_urlsafe

# (method, path, expected outcome per persona in PERSONAS order). {single} and {multi}
# are the ids of a single-user session (S) and of a multi-user one.
ALL_OK = (OK,) * 5
HTTP_TABLE = [
    ("GET", "", ALL_OK),
    ("GET", f"interview/{INTERVIEW}", ALL_OK),
    ("POST", f"interview/{INTERVIEW}", ALL_OK),
    ("POST", f"interview/{INTERVIEW}/restart", ALL_OK),
    ("POST", f"interview/{INTERVIEW}/back", ALL_OK),
    ("GET", "share/{single}", (FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK)),
    ("GET", "share/{multi}", ALL_OK),
    ("POST", "share/{single}", (FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK)),
    ("POST", "share/{multi}", ALL_OK),
    ("GET", "login", ALL_OK),
    ("POST", "login", ALL_OK),
    ("GET", "logout", ALL_OK),
    ("POST", "logout", ALL_OK),
    ("GET", "register", ALL_OK),
    ("POST", "register", ALL_OK),
    ("GET", "monitor", (LOGIN, FORBIDDEN, LOGIN, OK, OK)),
    # Transcripts: the interviewee's own conversation in S, and any for operators.
    ("GET", "transcript/{single}", (FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("GET", "transcript/{single}/download", (FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("GET", "history", (LOGIN, FORBIDDEN, LOGIN, OK, OK)),
    ("GET", "history/{conversation}", (LOGIN, FORBIDDEN, LOGIN, OK, OK)),
    ("GET", "history/{conversation}/download", (LOGIN, FORBIDDEN, LOGIN, OK, OK)),
    ("GET", "admin/users", (LOGIN, FORBIDDEN, LOGIN, FORBIDDEN, OK)),
    ("POST", "admin/users", (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)),
    ("GET", "admin/audit", (LOGIN, FORBIDDEN, LOGIN, FORBIDDEN, OK)),
    ("GET", "admin/replies", (LOGIN, FORBIDDEN, LOGIN, FORBIDDEN, OK)),
    # Advocates too with `reports: advocates: true` (tests/test_reports.py).
    ("GET", "reports", (LOGIN, FORBIDDEN, LOGIN, FORBIDDEN, OK)),
    ("GET", "reports/conversations.csv", (LOGIN, FORBIDDEN, LOGIN, FORBIDDEN, OK)),
    ("POST", "admin/replies", (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)),
    # `metrics localhost only: false`: the view from anywhere but the server itself.
    ("GET", "metrics", (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)),
    # Twilio webhooks: an unsigned request is refused whoever sends it.
    ("POST", "voice", (FORBIDDEN,) * 5),
    ("POST", "voice/code", (FORBIDDEN,) * 5),
]
POST_BODIES = {
    f"interview/{INTERVIEW}": {"continue": "continue"},
    "login": {"email": "nobody@example.org", "password": "not the password"},
    "register": {"email": "new-{persona}@example.org", "password": "correct horse battery",
                 "password_again": "correct horse battery", "first_name": "N", "last_name": "P"},
    "admin/users": {"action": "add", "email": "added-{persona}@example.org",
                    "privilege": "user", "password": "correct horse battery"},
    "admin/replies": {"action": "save", "title": "Hours {persona}", "text": "9 to 5"},
}
# Who may open each socket (the upgrade succeeds); everyone else is refused with 403.
SOCKET_ACCESS = {"ws/user/{single}": {"interviewee"}, "ws/monitor": {"advocate", "admin"}}
# The types each socket accepts from its client, as docs/protocol.md lists them (written
# out here, not read from the handlers: the table is what they are checked against).
USER_SOCKET_TYPES = frozenset({"hello", "history", "activate", "deactivate", "chat", "typing",
                               "screen", "field", "rate"})
MONITOR_SOCKET_TYPES = frozenset({
    "hello", "history", "set_status", "set_roles", "chat", "take", "typing", "block",
    "unblock", "set_phone", "phone", "observe", "stop_observe", "control", "stop_control",
    "set_field", "press", "save_reply", "delete_reply", "add_note", "notes"})
SOCKET_TYPES = {"ws/user/{single}": USER_SOCKET_TYPES, "ws/monitor": MONITOR_SOCKET_TYPES}
# Operator powers the interviewee's socket must never accept, and the reverse.
OPERATOR_ONLY_TYPES = {"set_status", "set_roles", "set_phone", "take", "block", "unblock",
                       "phone", "observe", "stop_observe", "control", "stop_control",
                       "set_field", "press", "save_reply", "delete_reply", "add_note", "notes"}
USER_ONLY_TYPES = {"activate", "deactivate", "screen", "field", "rate"}
# Types only the server sends (`set_field` and `press` are also operator requests): a
# client sending one is refused on both sockets, as is a type nobody knows.
SERVER_ONLY_TYPES = {"state", "ack", "error", "history_more", "monitor", "session",
                     "session_gone", "roles", "observe_screen", "observe_field", "observe_end",
                     "canned_replies", "canned_reply", "canned_reply_gone", "note",
                     "launch_missiles"}
ALL_TYPES = sorted(USER_SOCKET_TYPES | MONITOR_SOCKET_TYPES | SERVER_ONLY_TYPES)
PROBE = "zz_probe"  # an unknown type sent after each probed one: its refusal ends the wait


@dataclass
class Matrix:
    """The shared server and each persona's cookies."""

    server: LiveServer
    cookies: dict[str, str]
    ids: dict[str, str]
    accounts: dict[str, User]  # of the signed-in personas

    def path(self, template: str) -> str:
        return template.format(**self.ids)

    async def cookie(self, persona: str, path: str) -> str:
        """The persona's cookies; for `logout`, with a sign-in of its own, since signing
        out ends the sign-in the other cells share."""
        cookie = self.cookies[persona]
        if path != "logout" or persona not in self.accounts:
            return cookie
        _, *others = cookie.split("; ")  # the sign-in comes first
        return "; ".join([await self.server.user_cookie(self.accounts[persona]), *others])


@pytest.fixture(scope="module")
async def matrix(tmp_path_factory) -> AsyncIterator[Matrix]:
    """One server for the whole matrix (registration on, metrics not localhost-only,
    Twilio voice on), two fruit sessions, one shared session, and the five personas."""
    config = Config(data_dir=tmp_path_factory.mktemp("matrix"), port=0, allow_registration=True,
                    metrics_localhost_only=False,
                    twilio=TwilioConfig(voice=True, auth_token=TOKEN, number="+12762410114"))
    async with serving(livehelp_server.make_services(config)) as server:
        yield await matrix_on(server)


async def matrix_on(server: LiveServer) -> Matrix:
    """The sessions, accounts and persona cookies of the matrix, on `server`."""
    live = {"availability": "available", "mode": "help", "partner_roles": ["advocate"]}
    records = {name: SessionRecord(id=new_id(), interview=interview, live_help=dict(live))
               for name, interview in (("single", INTERVIEW), ("other", INTERVIEW),
                                       ("multi", SHARED_INTERVIEW))}
    for record in records.values():
        await server.services.store.save_session(record)
    user = await server.add_user("user@example.org", ("user",))
    advocate = await server.add_user("advocate@example.org", ("advocate",))
    admin = await server.add_user("admin@example.org", ("admin",))

    def holds(record: SessionRecord) -> list[str]:
        return [server.cookie_for("lh_sessions", json.dumps({record.interview: record.id})),
                server.cookie_for("lh_browser", new_id())]

    cookies = {
        "anonymous": "",
        "interviewee": "; ".join([await server.user_cookie(user), *holds(records["single"])]),
        "other": "; ".join(holds(records["other"])),
        "advocate": await server.user_cookie(advocate),
        "admin": await server.user_cookie(admin),
    }
    # The interviewee's conversation in S has a message, so its transcripts have a page.
    conversation = f"{records['single'].id}|u:{user.id}"
    await server.services.store.add_message(ChatMessage(
        conversation=conversation, session_id=records["single"].id, sender_key=f"u:{user.id}",
        sender_role="user", text="hello", client_id=new_id()))
    ids = {name: r.id for name, r in records.items()}
    ids["conversation"] = quote(conversation, safe="")
    return Matrix(server, cookies, ids,
                  {"interviewee": user, "advocate": advocate, "admin": admin})


async def xsrf_token(server: LiveServer) -> str:
    """A token from the `_xsrf` cookie a page sets; used as both cookie and form field."""
    response = await server.fetch("login")
    for header in response.headers.get_list("Set-Cookie"):
        if header.startswith("_xsrf="):
            return header.split(";")[0].split("=", 1)[1]
    raise AssertionError("no _xsrf cookie set")


def outcome(server: LiveServer, response: tornado.httpclient.HTTPResponse) -> str:
    if response.code == 403:
        return FORBIDDEN
    if response.code in (301, 302, 303):
        login = server.root + "login"
        return LOGIN if response.headers.get("Location", "").startswith(login) else OK
    assert response.code == 200, f"unexpected {response.code}"
    return OK


async def http_cell(matrix: Matrix, persona: str, method: str, path: str) -> str:
    server, cookie = matrix.server, await matrix.cookie(persona, path)
    if method == "GET":
        response = await server.fetch(matrix.path(path), cookie=cookie)
        if path == f"interview/{INTERVIEW}":  # only its holder is shown session S
            shown = f'data-session="{matrix.ids["single"]}"' in response.body.decode()
            assert shown == (persona == "interviewee")
        return outcome(server, response)
    token = await xsrf_token(server)
    body = {k: v.format(persona=persona) for k, v in POST_BODIES.get(path, {}).items()}
    jar = "; ".join(c for c in (cookie, f"_xsrf={token}") if c)
    response = await server.fetch(matrix.path(path), "POST", {**body, "_xsrf": token}, jar)
    return outcome(server, response)


async def open_socket(matrix: Matrix, persona: str, path: str):
    """The socket, or None when the upgrade is refused with 403."""
    try:
        ws = await matrix.server.websocket(matrix.path(path), matrix.cookies[persona])
    except tornado.httpclient.HTTPClientError as error:
        assert error.code == 403, error
        return None
    await receive(ws)  # `state` or `monitor`
    return ws


async def message_cell(matrix: Matrix, persona: str, path: str, kind: str) -> str:
    """OK when the socket takes `kind`; "refused" (no socket) or the error code otherwise."""
    ws = await open_socket(matrix, persona, path)
    if ws is None:
        return "refused"
    try:
        await ws.write_message(json.dumps({"type": kind}))
        await ws.write_message(json.dumps({"type": PROBE}))
        while True:
            message = await receive(ws, "error")
            if message["ref"] == kind and message["code"] in ("unknown_type", "not_allowed"):
                return message["code"]
            if message["ref"] == PROBE:
                return OK
    finally:
        ws.close()


def socket_expectations() -> dict[str, dict[str, str]]:
    """Per socket and message type, what a persona who may open the socket gets: OK, or
    `unknown_type` for a type that socket does not take (the other socket's, the server's)."""
    return {path: {kind: OK if kind in SOCKET_TYPES[path] else "unknown_type"
                   for kind in ALL_TYPES} for path in SOCKET_ACCESS}


def matrix_cells() -> list:
    cells = []
    for method, path, expected in HTTP_TABLE:
        for persona, want in zip(PERSONAS, expected):
            cells.append(pytest.param("http", method, path, persona, want,
                                      id=f"{method} /{path} {persona}"))
    for path, allowed in SOCKET_ACCESS.items():
        for persona in PERSONAS:
            want = OK if persona in allowed else "refused"
            cells.append(pytest.param("upgrade", "GET", path, persona, want,
                                      id=f"upgrade {path} {persona}"))
            for kind, outcome in socket_expectations()[path].items():
                want = outcome if persona in allowed else "refused"
                cells.append(pytest.param("message", kind, path, persona, want,
                                          id=f"{path} {kind} {persona}"))
    return cells


@pytest.mark.parametrize(("kind", "what", "path", "persona", "expected"), matrix_cells())
async def test_security_matrix(matrix: Matrix, kind: str, what: str, path: str, persona: str,
                               expected: str) -> None:
    if kind == "http":
        assert await http_cell(matrix, persona, what, path) == expected
    elif kind == "upgrade":
        ws = await open_socket(matrix, persona, path)
        assert (OK if ws else "refused") == expected
        if ws:
            ws.close()
    else:
        assert await message_cell(matrix, persona, path, what) == expected


def test_the_matrix_covers_every_route(matrix: Matrix) -> None:
    """A new route fails here until it has a row in the table."""
    covered = [matrix.path(p) for _m, p, _e in HTTP_TABLE] + [matrix.path(p) for p in SOCKET_ACCESS]
    for rule in matrix.server.app.wildcard_router.rules:
        if rule.target is tornado.web.StaticFileHandler:
            continue
        pattern = rule.matcher.regex
        assert any(pattern.match(matrix.server.root + path) for path in covered), pattern.pattern


def test_the_socket_tables_keep_each_sockets_powers_apart() -> None:
    """The matrix asks each socket for every type of the other (`unknown_type` unless
    shared); these are the types it must refuse."""
    assert MONITOR_SOCKET_TYPES - USER_SOCKET_TYPES == OPERATOR_ONLY_TYPES
    assert USER_SOCKET_TYPES - MONITOR_SOCKET_TYPES == USER_ONLY_TYPES
    assert not SERVER_ONLY_TYPES & (USER_SOCKET_TYPES | MONITOR_SOCKET_TYPES)
    refused = {(path, kind) for path, want in socket_expectations().items()
               for kind, outcome in want.items() if outcome == "unknown_type"}
    assert {kind for path, kind in refused if path == "ws/user/{single}"} == (
        OPERATOR_ONLY_TYPES | SERVER_ONLY_TYPES)
    assert {kind for path, kind in refused if path == "ws/monitor"} == (
        USER_ONLY_TYPES | SERVER_ONLY_TYPES)


# origin ----------------------------------------------------------------------------

FOREIGN_ORIGINS = ("http://evil.example", "null", "http://127.0.0.1.evil.example")


@pytest.mark.parametrize(("path", "persona"), [("ws/user/{single}", "interviewee"),
                                               ("ws/monitor", "advocate")])
async def test_a_foreign_origin_is_refused_on_both_sockets(matrix: Matrix, path: str,
                                                           persona: str) -> None:
    server = matrix.server
    for origin in FOREIGN_ORIGINS:
        with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
            await server.websocket(matrix.path(path), matrix.cookies[persona], origin)
        assert refused.value.code == 403, origin
    same = await server.websocket(matrix.path(path), matrix.cookies[persona])
    same.close()


# cookies ---------------------------------------------------------------------------

async def issued_cookies(server: LiveServer, headers: dict | None = None) -> dict[str, str]:
    """Set-Cookie headers (lower-cased) of an interview start and of a sign-in."""
    found: dict[str, str] = {}
    page = await server.fetch(f"interview/{INTERVIEW}", headers=headers)
    await server.add_user("cookie@example.org", ("advocate",))
    token = await xsrf_token(server)
    login = await server.fetch("login", "POST", {
        "email": "cookie@example.org", "password": "correct horse battery", "_xsrf": token},
        cookie=f"_xsrf={token}", headers=headers)
    assert login.code == 302
    for response in (page, login):
        for header in response.headers.get_list("Set-Cookie"):
            found[header.split("=", 1)[0]] = header.lower()
    assert {"lh_browser", "lh_sessions", "lh_user"} <= set(found)
    return found


async def test_cookies_are_httponly_and_samesite_lax(live_server: LiveServer) -> None:
    for name, header in (await issued_cookies(live_server)).items():
        assert "samesite=lax" in header, name
        if name != "_xsrf":  # double-submit token, not a credential
            assert "httponly" in header and "secure" not in header, name


async def test_cookies_are_secure_behind_an_https_load_balancer(tmp_path) -> None:
    config = Config(behind_https_load_balancer=True, port=0, data_dir=tmp_path / "data")
    async with serving(livehelp_server.make_services(config)) as server:
        for name, header in (await issued_cookies(server, {"X-Forwarded-Proto": "https"})).items():
            flags = {part.strip() for part in header.split(";")}
            assert name == "_xsrf" or {"secure", "httponly", "samesite=lax"} <= flags, name


# XSRF --------------------------------------------------------------------------------

POST_PATHS = [path for method, path, _ in HTTP_TABLE if method == "POST"]


@pytest.mark.parametrize("path", [p for p in POST_PATHS if not p.startswith("voice")])
async def test_every_post_without_the_xsrf_token_is_refused(matrix: Matrix, path: str) -> None:
    server, cookie = matrix.server, await matrix.cookie("admin", path)
    body = {k: v.format(persona="xsrf") for k, v in POST_BODIES.get(path, {}).items()}
    assert (await server.fetch(matrix.path(path), "POST", body, cookie)).code == 403
    token = await xsrf_token(server)
    foreign = await server.fetch(matrix.path(path), "POST", {**body, "_xsrf": token},
                                 f"{cookie}; _xsrf={await xsrf_token(server)}")
    assert foreign.code == 403, "a token not matching the cookie must be refused"
    jar = f"{cookie}; _xsrf={token}"
    allowed = await server.fetch(matrix.path(path), "POST", {**body, "_xsrf": token}, jar)
    assert allowed.code != 403


@pytest.mark.parametrize("path", [p for p in POST_PATHS if p.startswith("voice")])
async def test_voice_webhooks_demand_a_twilio_signature_instead(matrix: Matrix, path: str) -> None:
    server = matrix.server
    params = {"From": "+15005550006", "CallSid": "CA1", "Digits": "12"}
    token = await xsrf_token(server)
    unsigned = await server.fetch(path, "POST", {**params, "_xsrf": token}, f"_xsrf={token}")
    assert unsigned.code == 403
    forged = RequestValidator("not-the-token").compute_signature(server.url(path), params)
    assert (await server.fetch(path, "POST", params,
                               headers={"X-Twilio-Signature": forged})).code == 403
    signature = RequestValidator(TOKEN).compute_signature(server.url(path), params)
    signed = await server.fetch(path, "POST", params, headers={"X-Twilio-Signature": signature})
    assert signed.code == 200 and b"<Response>" in signed.body


# ids and codes from `secrets` ----------------------------------------------------------

DRAWS = 300


def test_new_ids_are_random_128_bit_tokens() -> None:
    ids = [new_id() for _ in range(DRAWS)]
    assert all(ID_SHAPE.match(i) for i in ids)
    assert len(set(ids)) == DRAWS
    assert len(set("".join(ids))) >= 60  # all but a few of the 64 url-safe characters


@pytest.fixture
def config(config: Config) -> Config:
    """The default test config with Twilio voice on, so access codes can be made."""
    config.twilio = TwilioConfig(voice=True, auth_token=TOKEN, number="+12762410114")
    return config


async def draw_codes(server: LiveServer, count: int) -> list[str]:
    """`count` access codes made through the model, one per new client, as an operator would."""
    livehelp, codes = server.services.livehelp, server.services.codes
    user = await server.add_user(f"{new_id()}@example.org".lower(), ("advocate",))
    operator = await livehelp.operators.connected(user)
    operator.settings.phone = "+14155552671"
    drawn = []
    for _ in range(count):
        record = SessionRecord(id=new_id(), interview=INTERVIEW, live_help={
            "availability": "available", "mode": "help", "partner_roles": ["advocate"]})
        client = livehelp.client_connected(record, "Fruit", f"b:{new_id()}", None)
        drawn.append(codes.enable(client.key, user.id).code)
    return drawn


async def test_ids_and_codes_do_not_follow_the_random_module(live_server: LiveServer) -> None:
    """Seeding `random` the same way twice must not repeat ids or codes."""
    runs = []
    for _ in range(2):
        random.seed(7)
        runs.append(([new_id() for _ in range(20)], await draw_codes(live_server, 20)))
    assert runs[0][0] != runs[1][0] and runs[0][1] != runs[1][1]


async def test_ids_and_codes_are_drawn_from_secrets(live_server: LiveServer, monkeypatch) -> None:
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n=None: f"from-secrets-{n}")
    assert new_id() == "from-secrets-16"
    monkeypatch.undo()
    monkeypatch.setattr(secrets, "randbelow", lambda space: 42)
    assert await draw_codes(live_server, 1) == ["0042"]


async def test_access_codes_are_unique_and_cover_the_whole_space(live_server: LiveServer) -> None:
    codes = await draw_codes(live_server, DRAWS)
    assert all(len(c) == 4 and c.isdigit() for c in codes) and len(set(codes)) == DRAWS
    assert {c[0] for c in codes} == set("0123456789")


def signed_cookie(server: LiveServer, response, name: str) -> str:
    """The value inside the signed cookie `name` that `response` set."""
    for header in response.headers.get_list("Set-Cookie"):
        if header.startswith(name + "="):
            raw = header.split(";")[0].split("=", 1)[1].strip('"')
            return tornado.web.decode_signed_value(
                server.app.settings["cookie_secret"], name, raw).decode()
    raise AssertionError(f"no {name} cookie")


async def test_session_and_browser_ids_are_fresh_per_browser(live_server: LiveServer) -> None:
    seen: set[str] = set()
    for _ in range(DRAWS // 3):
        response = await live_server.fetch(f"interview/{INTERVIEW}")
        session = json.loads(signed_cookie(live_server, response, "lh_sessions"))[INTERVIEW]
        for value in (session, signed_cookie(live_server, response, "lh_browser")):
            assert ID_SHAPE.match(value) and value not in seen
            seen.add(value)
    assert len(seen) == 2 * (DRAWS // 3)
