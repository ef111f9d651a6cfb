"""Configuration: one YAML file whose keys read like the reference, a default for every key.

The file's shape is declared once, below, as msgspec structs: each key with its type, limits and
default. One `msgspec.convert` checks the whole file, so an unknown key is refused at any depth.
`load_config(path)` returns the flat `Config` the code reads; any problem raises `ConfigError`
naming the key. Secrets may come from the environment (LIVEHELP_TWILIO_AUTH_TOKEN,
LIVEHELP_MONGODB_URI).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml
from msgspec import Meta

from state.phone.numbers import validate_e164


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config key '{key}': {problem}")
        self.key = key


class _Text(str):
    """A text key; YAML reads `name: 2024` as a number, which `_text_hook` takes as text too."""


# The kinds of value; a description completes the error "must be <description>, not <value>".
Text = Annotated[_Text, Meta(description="text")]
Flag = Annotated[bool, Meta(description="true or false")]
Port = Annotated[int, Meta(ge=0, le=65535, description="a port number")]
Positive = Annotated[float, Meta(gt=0, description="a number greater than 0")]
Count = Annotated[int, Meta(gt=0, description="a whole number greater than 0")]
UrlRoot = Annotated[str, Meta(pattern="^/", description="a path starting with /")]
DatabaseType = Annotated[Literal["sqlite", "mongodb"] | None, Meta(description="sqlite or mongodb")]

# A YAML key is its field's name with spaces, except where the flat Config name differs.
_YAML_KEYS = {"max_chat_chars": "max chat characters"}


def _yaml_key(name: str) -> str:
    return _YAML_KEYS.get(name, name.replace("_", " "))


class _Section(msgspec.Struct, forbid_unknown_fields=True, rename=_yaml_key):
    """A mapping of the file: its keys are declared, any other key is refused."""


class DatabaseFile(_Section):
    type: DatabaseType = None  # None: mongodb when a mongodb uri is given, else sqlite
    path: Text = ""  # "": data dir / livehelp.sqlite3
    mongodb_uri: Text = ""
    name: Text = "livehelp"


class TwilioFile(_Section):
    voice: Flag = False
    account_sid: Text = ""
    auth_token: Text = ""
    number: Text = ""
    # Five minutes is long enough to find a phone and dial, short enough that a
    # leaked code is worthless soon after.
    code_minutes: Positive = 5.0
    # Wrong codes all callers together may type in 24 hours before code entry pauses:
    # 9 keeps a guesser with unlimited numbers below a 1 % chance a day of reaching an
    # operator while 10 codes are live (state/phone/limits.py). A larger number pauses
    # honest callers less often and gives a guesser more chances.
    wrong_codes_per_day: Count = 9


class LiveHelpFile(_Section):
    # A browser that has had no open socket and made no request for this long is
    # "offline". Tornado pings every ping_seconds, so a vanished network is noticed
    # within ping_seconds + ping_timeout_seconds.
    offline_seconds: Positive = 1.0
    offline_check_seconds: Positive = 0.5
    code_check_seconds: Positive = 5.0
    ping_seconds: Positive = 10.0
    ping_timeout_seconds: Positive = 10.0
    # Largest WebSocket frame accepted; a chat message is far smaller, a screen
    # snapshot with every field value fits comfortably.
    max_message_bytes: Annotated[
        int, Meta(gt=1024, description="a number greater than 1024")] = 64 * 1024
    max_chat_chars: Count = 4000
    notify_user_when_observed: Flag = True


class LimitsFile(_Section):
    """What one visitor may cost the server; each limit says why it is what it is."""

    # Waiting to be written to one socket: a whole history page of the longest
    # messages fits; a reader that falls further behind is closed and replays later.
    max_queued_bytes: Count = 1024 * 1024
    # Chat messages one `hello` or `history` reply sends per conversation; the page
    # asks for the next page (docs/protocol.md).
    history_page_messages: Count = 200
    # Open sockets per browser (tabs of one person) and per client address (a
    # whole office behind one NAT).
    sockets_per_browser: Count = 20
    sockets_per_address: Count = 200
    # A person typing fast sends a few messages a second for a short while: a burst
    # of 30, then 2 a second; beyond that the sender is told how long to wait.
    chat_burst: Count = 30
    chat_per_minute: Count = 120
    # What one conversation may hold in all (about 500 full-length messages).
    conversation_characters: Count = 2_000_000
    # Seconds a connection may take to send its request headers, and stay idle
    # between requests, before it is closed.
    header_seconds: Positive = 10.0
    idle_connection_seconds: Positive = 120.0
    # Largest request body: interview forms and sign-in need kilobytes.
    max_body_bytes: Count = 256 * 1024


class RoutingFile(_Section):
    """How help conversations are shared out (state/livehelp/routing.py)."""

    # Conversations one operator holds at once; each may choose their own, up to the
    # ceiling an admin sets here.
    capacity: Count = 4
    max_capacity: Count = 10
    # A user offline this long frees their operator's place (a page reload or a
    # short network loss does not).
    grace_seconds: Positive = 120.0
    # Waiting users beyond this many in one queue are offered to leave a message.
    queue_limit: Count = 10
    # The wait estimate averages the gaps between this many recent departures from
    # the queue (docs/protocol.md, "Queue").
    estimate_samples: Count = 20


class SatisfactionFile(_Section):
    """Ratings of help chats (state/livehelp/satisfaction.py)."""

    # Ask the user to rate a help chat when it ends; an interview may say otherwise
    # (set_live_help_status(rating=...)).
    ask: Flag = True


class ReportsFile(_Section):
    """The reports page (/reports): admins always; advocates only when this says so."""

    advocates: Flag = False


class SignInFile(_Section):
    # A sign-in unused this long ends; none lasts longer than max days.
    idle_hours: Positive = 12.0
    max_days: Positive = 30.0


class ClusterFile(_Section):
    """Several processes behind a load balancer (docs/deployment.md); off while
    `redis url` is empty. Each process names itself (default: host name and port)."""

    redis_url: Text = ""
    process_name: Text = ""
    heartbeat_seconds: Positive = 1.0
    # A process unheard of this long is taken for dead.
    dead_after_seconds: Positive = 5.0


class ConfigFile(_Section):
    host: Text = "127.0.0.1"
    port: Port = 8080
    data_dir: Text = "data"
    url_root: UrlRoot = "/"
    behind_https_load_balancer: Flag = False
    database: DatabaseFile = msgspec.field(default_factory=DatabaseFile)
    twilio: TwilioFile = msgspec.field(default_factory=TwilioFile)
    allow_registration: Flag = False
    live_help: LiveHelpFile = msgspec.field(default_factory=LiveHelpFile)
    limits: LimitsFile = msgspec.field(default_factory=LimitsFile)
    sign_in: SignInFile = msgspec.field(default_factory=SignInFile)
    routing: RoutingFile = msgspec.field(default_factory=RoutingFile)
    cluster: ClusterFile = msgspec.field(default_factory=ClusterFile)
    satisfaction: SatisfactionFile = msgspec.field(default_factory=SatisfactionFile)
    reports: ReportsFile = msgspec.field(default_factory=ReportsFile)
    metrics_localhost_only: Flag = True
    # The folder of interview files ("": the demo interviews that come with livehelp).
    interviews_dir: Text = ""
    # Check interview files every second and serve a good edit without a restart.
    interview_reload: Flag = True
    debug: Flag = False


# The flat classes the code reads take their defaults from the declaration above.
_FILE = ConfigFile()
_TWILIO, _LIVE = _FILE.twilio, _FILE.live_help


@dataclass
class TwilioConfig:
    voice: bool = _TWILIO.voice
    account_sid: str = _TWILIO.account_sid
    auth_token: str = _TWILIO.auth_token
    number: str = _TWILIO.number
    code_minutes: float = _TWILIO.code_minutes
    wrong_codes_per_day: int = _TWILIO.wrong_codes_per_day


@dataclass
class Config:
    host: str = _FILE.host
    port: int = _FILE.port
    data_dir: Path = Path(_FILE.data_dir)
    url_root: str = _FILE.url_root
    behind_https_load_balancer: bool = _FILE.behind_https_load_balancer
    database: str = "sqlite"  # or "mongodb"; the file's type when it gives one
    sqlite_path: Path | None = None  # default: data_dir / "livehelp.sqlite3"
    mongodb_uri: str = _FILE.database.mongodb_uri
    mongodb_name: str = _FILE.database.name
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    allow_registration: bool = _FILE.allow_registration
    offline_seconds: float = _LIVE.offline_seconds
    offline_check_seconds: float = _LIVE.offline_check_seconds
    code_check_seconds: float = _LIVE.code_check_seconds
    ping_seconds: float = _LIVE.ping_seconds
    ping_timeout_seconds: float = _LIVE.ping_timeout_seconds
    max_message_bytes: int = _LIVE.max_message_bytes
    max_chat_chars: int = _LIVE.max_chat_chars
    notify_user_when_observed: bool = _LIVE.notify_user_when_observed
    metrics_localhost_only: bool = _FILE.metrics_localhost_only
    interviews_dir: Path | None = None  # None: the demo interviews
    interview_reload: bool = _FILE.interview_reload
    debug: bool = _FILE.debug
    # Sections the code reads as declared (their defaults are in the structs).
    limits: LimitsFile = field(default_factory=LimitsFile)
    sign_in: SignInFile = field(default_factory=SignInFile)
    routing: RoutingFile = field(default_factory=RoutingFile)
    cluster: ClusterFile = field(default_factory=ClusterFile)
    satisfaction: SatisfactionFile = field(default_factory=SatisfactionFile)
    reports: ReportsFile = field(default_factory=ReportsFile)

    @property
    def database_path(self) -> Path:
        return self.sqlite_path or self.data_dir / "livehelp.sqlite3"


def _text_hook(kind: type, value: Any) -> Any:
    if kind is _Text and isinstance(value, (str, int)) and not isinstance(value, bool):
        return _Text(value)
    raise ValueError("must be text")


def _without_nulls(raw: dict) -> dict:
    """A key left empty (YAML null) means its default; `5: x` becomes the unknown key "5"."""
    return {str(key): _without_nulls(value) if isinstance(value, dict) else value
            for key, value in raw.items() if value is not None}


def _config_error(message: str, raw: dict) -> ConfigError:
    """Restate msgspec's "<problem> - at `$.section.key`" as a ConfigError naming the key."""
    problem, at, where = message.rpartition(" - at `$")
    if not at:  # a problem of the top level carries no path
        problem, where = message, ""
    keys = [key for key in where.rstrip("`").split(".") if key]
    unknown = re.fullmatch(r"Object contains unknown field `(.*)`", problem, re.DOTALL)
    kind: Any = ConfigFile
    value: Any = raw
    for key in keys:
        kind = next(info.type for info in msgspec.structs.fields(kind) if info.encode_name == key)
        value = value[key]
    if unknown:
        known = [info.encode_name for info in msgspec.structs.fields(kind)]
        near = difflib.get_close_matches(unknown[1], known, n=1)
        return ConfigError(": ".join([*keys, unknown[1]]), "is not a known key" +
                           (f" (did you mean '{near[0]}'?)" if near else ""))
    if isinstance(kind, type) and issubclass(kind, _Section):
        return ConfigError(": ".join(keys), f"must be a mapping, not {value!r}")
    meta = next(meta for meta in kind.__metadata__ if isinstance(meta, Meta))
    return ConfigError(": ".join(keys), f"must be {meta.description}, not {value!r}")


def _check_voice(twilio: TwilioConfig) -> None:
    if not twilio.voice:
        return
    if not twilio.number:
        raise ConfigError("twilio: number", "is required when voice is true")
    try:
        validate_e164(twilio.number)
    except ValueError as error:
        raise ConfigError("twilio: number", str(error)) from None
    if not twilio.auth_token:
        raise ConfigError(
            "twilio: auth token",
            "is required when voice is true (or set LIVEHELP_TWILIO_AUTH_TOKEN)",
        )


def _check_cluster(cluster: ClusterFile, database: str) -> None:
    if not cluster.redis_url:
        return
    if not cluster.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("cluster: redis url",
                          f"must start with redis://, rediss:// or unix://, not {cluster.redis_url!r}")
    if database != "mongodb":
        raise ConfigError("cluster: redis url", "needs the MongoDB store (database: type mongodb):"
                          " several processes cannot share one SQLite file")
    if cluster.dead_after_seconds <= 2 * cluster.heartbeat_seconds:
        raise ConfigError("cluster: dead after seconds",
                          "must be more than twice heartbeat seconds, or a slow beat kills a"
                          " live process")


def config_from_dict(raw: dict | None) -> Config:
    """Build a Config from the parsed YAML mapping, validating every key."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError("(top level)", "the file must hold a mapping of keys")
    raw = _without_nulls(raw)
    try:
        file = msgspec.convert(raw, ConfigFile, dec_hook=_text_hook)
    except msgspec.ValidationError as error:
        raise _config_error(str(error), raw) from None

    database = file.database
    mongodb_uri = os.environ.get("LIVEHELP_MONGODB_URI") or database.mongodb_uri
    kind = database.type or ("mongodb" if mongodb_uri else Config.database)
    if kind == "mongodb" and not mongodb_uri:
        raise ConfigError("database: mongodb uri", "is required for type mongodb")
    twilio = TwilioConfig(**msgspec.structs.asdict(file.twilio))
    twilio.auth_token = os.environ.get("LIVEHELP_TWILIO_AUTH_TOKEN") or twilio.auth_token
    _check_voice(twilio)
    _check_cluster(file.cluster, kind)
    return Config(
        host=file.host,
        port=file.port,
        data_dir=Path(file.data_dir),
        url_root=file.url_root.rstrip("/") + "/",
        behind_https_load_balancer=file.behind_https_load_balancer,
        database=kind,
        sqlite_path=Path(database.path) if database.path else None,
        mongodb_uri=mongodb_uri,
        mongodb_name=database.name,
        twilio=twilio,
        allow_registration=file.allow_registration,
        metrics_localhost_only=file.metrics_localhost_only,
        interviews_dir=Path(file.interviews_dir) if file.interviews_dir else None,
        interview_reload=file.interview_reload,
        debug=file.debug,
        limits=file.limits,
        sign_in=file.sign_in,
        routing=file.routing,
        cluster=file.cluster,
        satisfaction=file.satisfaction,
        reports=file.reports,
        **msgspec.structs.asdict(file.live_help),
    )


def load_config(path: str | Path | None) -> Config:
    """Read the YAML file at `path` (None: all defaults)."""
    if path is None:
        return config_from_dict({})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError("--config", f"cannot read {path}: {error.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError("(file)", f"is not valid YAML: {error}") from None
    return config_from_dict(raw)
