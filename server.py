"""livehelp server: command line, config loading, make_app(), periodic jobs, listen."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import getpass
import logging
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import tornado.ioloop
import tornado.netutil
import tornado.web

from handlers import http_limits, metrics, rights, shutdown
from handlers.socket_registry import SocketRegistry
from state.accounts import cli, users
from state.accounts.throttle import LoginThrottle
from state.cobrowse.control import CoBrowse
from state.config import Config, ConfigError, load_config
from state.interview.check import check_paths
from state.interview.library import BrokenInterviews, InterviewLibrary
from state.livehelp.api import interview_namespace
from state.livehelp.hub import Hub
from state.livehelp.model import LiveHelp
from state.livehelp.satisfaction import Satisfaction
from state.livehelp.user_view import TELL_PLACES_SECONDS
from state.phone.codes import AccessCodes
from state.store.base import Store, StoreUnavailable

if TYPE_CHECKING:
    from state.cluster import Cluster

HERE = Path(__file__).resolve().parent
DEMO_INTERVIEWS = HERE / "interviews"
# How often interview files are looked at for edits: an author sees a saved edit at
# once; a stat() of a few files costs nothing.
INTERVIEW_CHECK_SECONDS = 1.0
# Allocations between two collections of the youngest generation (default 700).
GC_YOUNG_THRESHOLD = 20_000
log = logging.getLogger("livehelp")


@dataclass
class Services:
    """Everything the server knows, built once and handed to handlers through settings."""

    config: Config
    store: Store
    hub: Hub
    livehelp: LiveHelp
    codes: AccessCodes
    interviews: InterviewLibrary
    cobrowse: CoBrowse
    satisfaction: Satisfaction
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    # Serialises privilege changes so two admins demoting each other at once cannot
    # both pass the "last admin" check.
    account_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Every open socket: limits, closing when rights end, draining on shutdown.
    sockets: SocketRegistry = field(default_factory=SocketRegistry)
    cluster: Cluster | None = None  # cluster mode (the config's `cluster:` section)
    _timers: list[tornado.ioloop.PeriodicCallback] = field(default_factory=list)

    def periodic_jobs(self) -> dict[str, tuple]:
        """Name -> (callback, interval in seconds); the one place timers are declared."""
        # Open sockets whose sign-in ended or whose account lost its operator rights in
        # another process (`livehelp user ...`) close within RIGHTS_CHECK_SECONDS.
        check = rights.RightsCheck(self.store, self.config.sign_in, self.sockets)
        return {
            **({"say this process is alive": (self.cluster.beat,
                                               self.config.cluster.heartbeat_seconds)}
               if self.cluster else {}),
            "check sign-ins and rights": (check.run, rights.RIGHTS_CHECK_SECONDS),
            "remove expired sign-ins": (check.remove_expired, rights.EXPIRED_SIGN_INS_SECONDS),
            "mark offline sessions": (self.livehelp.mark_offline, self.config.offline_check_seconds),
            "tell places in line": (self.livehelp.user_view.tell_places, TELL_PLACES_SECONDS),
            "expire access codes": (self.codes.expire_codes, self.config.code_check_seconds),
            **({"reload edited interviews": (self.interviews.reload_changed,
                                             INTERVIEW_CHECK_SECONDS)}
               if self.config.interview_reload else {}),
        }

    async def start(self) -> None:
        # Nothing of the live state is restored: pages reconnect by themselves and
        # register again; what must last (chat, settings, blocks) is in the store.
        await self.store.open()
        if self.cluster:
            await self.cluster.start()
        for callback, seconds in self.periodic_jobs().values():
            timer = tornado.ioloop.PeriodicCallback(callback, seconds * 1000)
            timer.start()
            self._timers.append(timer)

    async def stop(self) -> None:
        """Stop the timers, forget the live state, close the store. Call once no socket
        reads any more (serve() closes them first): a frame handled after this would find
        no session."""
        for timer in self._timers:
            timer.stop()
        self._timers.clear()
        await self.livehelp.close()
        if self.cluster:
            await self.cluster.stop()
        await self.store.close()


def cookie_secret(data_dir: Path) -> str:
    """Generated on first start and kept in the data directory (readable by the owner only)."""
    path = data_dir / "cookie_secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret


def make_store(config: Config) -> Store:
    """The store the config asks for: embedded SQLite by default, MongoDB when configured."""
    if config.database == "mongodb":
        from state.store.mongo import MongoStore

        return MongoStore(config.mongodb_uri, config.mongodb_name)
    from state.store.sqlite import SQLiteStore

    return SQLiteStore(config.database_path)


def make_services(config: Config, store: Store | None = None) -> Services:
    """The one composition: the model, the parts that extend it, the interview library
    with the author API."""
    store = store or make_store(config)
    hub = Hub()
    livehelp = LiveHelp(store, hub, config)
    codes = AccessCodes(livehelp, config.twilio)
    cobrowse = CoBrowse(livehelp, config)
    satisfaction = Satisfaction(livehelp, config)
    for extension in (cobrowse, codes, satisfaction):
        livehelp.add_extension(extension)
    cluster = None
    if config.cluster.redis_url:  # one process imports nothing of Redis
        import cluster_mode

        cluster = cluster_mode.join(config, hub, livehelp, codes)
    return Services(
        config=config,
        store=store,
        hub=hub,
        livehelp=livehelp,
        codes=codes,
        interviews=InterviewLibrary(config.interviews_dir or DEMO_INTERVIEWS,
                                    api=interview_namespace()),
        cobrowse=cobrowse,
        cluster=cluster,
        satisfaction=satisfaction,
    )


def make_app(services: Services) -> tornado.web.Application:
    """Join every handler module's routes under the url root and build the application."""
    from handlers import (
        admin,
        admin_replies,
        auth,
        history,
        interview,
        metrics,
        monitor,
        monitor_socket,
        reports,
        transcript,
        user_socket,
        voice,
    )

    config = services.config
    root = config.url_root
    routes = []
    for module in (auth, admin, admin_replies, interview, metrics, monitor, monitor_socket,
                   user_socket, voice, history, transcript, reports):
        for pattern, handler, *rest in module.routes:
            routes.append((root + pattern.lstrip("/"), handler, *rest))
    jinja = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app = tornado.web.Application(
        routes,
        livehelp_config=config,
        store=services.store,
        hub=services.hub,
        livehelp=services.livehelp,
        codes=services.codes,
        interviews=services.interviews,
        cobrowse=services.cobrowse,
        cluster=services.cluster,
        satisfaction=services.satisfaction,
        login_throttle=services.login_throttle,
        account_lock=services.account_lock,
        # Every open socket of this application: limits, closing, drain on shutdown.
        sockets=services.sockets,
        jinja=jinja,
        cookie_secret=cookie_secret(config.data_dir),
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"httponly": True, "samesite": "Lax"},  # no script reads it
        static_path=str(HERE / "static"),
        static_url_prefix=root + "static/",
        websocket_ping_interval=config.ping_seconds,
        websocket_ping_timeout=config.ping_timeout_seconds,
        websocket_max_message_size=config.max_message_bytes,
        default_handler_class=interview.NotFoundHandler,
        debug=config.debug,
    )
    if services.cluster is not None:  # operators' commands for sessions of other processes
        from handlers.home_monitor import Homes

        app.settings["homes"] = Homes(services.cluster, app.settings)
    return app


class StartupError(Exception):
    """The server cannot start: one line for the person starting it, and the exit code
    (2: the configuration is wrong; 1: the machine or a service it needs)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def listening_sockets(config: Config) -> list[socket.socket]:
    """The listening sockets, bound before anything is written, so a server that cannot
    listen changes nothing (no first admin whose password nobody saw)."""
    try:
        return tornado.netutil.bind_sockets(config.port, config.host)
    except socket.gaierror:
        raise StartupError(f"config key 'host': {config.host!r} is not an address of this "
                           "machine or a name that resolves", 2) from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise StartupError(f"port {config.port} on {config.host} is in use by another "
                               "program; stop it or choose another port with --port") from None
        if error.errno == errno.EACCES:
            raise StartupError(f"not allowed to listen on port {config.port}; ports below "
                               "1024 need root, choose another with --port") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise StartupError(f"config key 'host': {config.host} is not an address of this "
                               "machine", 2) from None
        raise StartupError(f"cannot listen on {config.host}:{config.port}: "
                           f"{error.strerror}") from None


def prepare_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StartupError(f"cannot create the data directory {data_dir}: {error.strerror}; "
                           "choose another with --data-dir") from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise StartupError(f"the data directory {data_dir} is not writable by this user; "
                           "fix its permissions or choose another with --data-dir")


async def open_store(services: Services) -> None:
    """Open the store and become its one chat writer, or say in one line why not."""
    try:
        await services.start()
        await services.store.claim_writer()
    except (StoreUnavailable, OSError) as error:
        await services.stop()
        reason = str(error).splitlines()[0]
        if services.config.database == "mongodb" and "unreachable" in reason:
            reason = (f"MongoDB at {services.config.mongodb_uri} did not answer; is it "
                      "running and reachable from here?")
        raise StartupError(f"cannot use the store: {reason}") from None


async def serve(config: Config) -> None:
    services = make_services(config)
    sockets = listening_sockets(config)
    prepare_data_dir(config.data_dir)
    await open_store(services)
    password = await users.ensure_first_admin(services.store)
    if password:
        print("Created the first operator account (shown only this once):", flush=True)
        print(f"  email:    {users.FIRST_ADMIN_EMAIL}\n  password: {password}", flush=True)
    app = make_app(services)
    # Everything built so far lives as long as the process: keep it out of the
    # collector's scans, and collect the young generation less often (chat makes
    # many short-lived objects; measured about 7% of the CPU per message with the
    # default threshold of 700 under bench/chat.py).
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)
    metrics.start_loop_lag_sampler(app)
    # Header, idle and body limits, and an accept loop that pauses without descriptors.
    server = http_limits.make_http_server(app, config)
    server.add_sockets(sockets)
    print(f"livehelp listening on http://{config.host}:{config.port}{config.url_root}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # In this order: no new connections, the messages in flight stored and acknowledged,
    # every socket closed with 1012 (pages reconnect), and only then the live state and
    # the store go. Bounded: handlers/shutdown.py.
    await shutdown.stop_serving(server, services.sockets)
    metrics.stop_loop_lag_sampler(app)
    await services.stop()


async def user_command(config: Config, args: argparse.Namespace) -> int:
    """`livehelp user add|list|set-password|set-privilege`: the store alone. Only `serve`
    creates a data directory: a mistyped one must not look like an empty server."""
    if config.database == "sqlite" and not config.database_path.exists():
        print(f"livehelp: there is no livehelp database at {config.database_path}; check "
              "--data-dir (or the config's data dir), or start the server once to create it",
              file=sys.stderr)
        return 1
    store = make_store(config)
    await store.open()
    try:
        return await cli.run_user_command(store, args, getpass.getpass)
    finally:
        await store.close()


DESCRIPTION = """\
livehelp: live help from human operators for people filling in web interviews. With
no command it serves the interviews, the operators' Monitor and live chat (at
http://127.0.0.1:8080/ unless the config or --host/--port say otherwise); the first
start creates the account admin@localhost and prints its password once.
"""


def options_parser(suppress: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name (`suppress`: a default
    given after the command must not hide one given before it)."""
    default = argparse.SUPPRESS if suppress else None
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", metavar="FILE", default=default,
                         help="the YAML config file (default: every key's default)")
    options.add_argument("--host", default=default,
                         help="the address to listen on (default 127.0.0.1)")
    options.add_argument("--port", type=int, default=default,
                         help="the port to listen on (default 8080)")
    options.add_argument("--data-dir", metavar="DIR", default=default,
                         help="where the SQLite database and the cookie secret live "
                              "(default ./data)")
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livehelp", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     parents=[options_parser(suppress=False)])
    after = [options_parser(suppress=True)]
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", parents=after, help="run the server (the default)")
    check = commands.add_parser(
        "check", parents=after, help="check interview files without serving them",
        description="Check interview files completely (YAML, fields, conditions, templates, "
                    "code, names no screen defines) and print one 'file:line: message' per "
                    "problem. Exit code 0: no problems; 1: problems found.")
    check.add_argument("files", nargs="*", type=Path, metavar="FILE",
                       help="interview files or folders (default: the config's interviews dir)")
    cli.add_user_parser(commands, after)
    return parser


def check_command(config: Config, files: list[Path]) -> int:
    """`livehelp check [FILE...]`."""
    paths = files or [config.interviews_dir or DEMO_INTERVIEWS]
    missing = [path for path in paths if not path.exists()]
    if missing:
        print(f"livehelp: {missing[0]} does not exist", file=sys.stderr)
        return 2
    problems = check_paths(paths, interview_namespace())
    for problem in problems:
        print(problem)
    if not problems:
        print(f"No problems in {', '.join(map(str, paths))}.")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"livehelp: {error}", file=sys.stderr)
        return 2
    if args.host:
        config.host = args.host
    if args.port is not None:
        config.port = args.port
    if args.data_dir:
        config.data_dir = Path(args.data_dir)
    if args.command == "user":
        return asyncio.run(user_command(config, args))
    if args.command == "check":
        return check_command(config, args.files)
    try:
        asyncio.run(serve(config))
    except BrokenInterviews as broken:
        print("livehelp: not started: interviews with problems (fix them, then start again; "
              "`livehelp check` checks without starting):", file=sys.stderr)
        for problem in broken.problems:
            print(problem, file=sys.stderr)
        return 2
    except StartupError as error:
        print(f"livehelp: not started: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
