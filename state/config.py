"""Configuration: one YAML file whose keys read like the reference, a default for every key.

`load_config(path)` returns a `Config`; any problem raises `ConfigError` naming the key.
Secrets may come from the environment (LIVEHELP_TWILIO_AUTH_TOKEN, LIVEHELP_MONGODB_URI).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from state.phone.numbers import validate_e164


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config key '{key}': {problem}")
        self.key = key


@dataclass
class TwilioConfig:
    voice: bool = False
    account_sid: str = ""
    auth_token: str = ""
    number: str = ""
    # Five minutes is long enough to find a phone and dial, short enough that a
    # leaked code is worthless soon after.
    code_minutes: float = 5.0


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    url_root: str = "/"
    behind_https_load_balancer: bool = False
    database: str = "sqlite"  # "sqlite" or "mongodb"
    sqlite_path: Path | None = None  # default: data_dir / "livehelp.sqlite3"
    mongodb_uri: str = ""
    mongodb_name: str = "livehelp"
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    allow_registration: bool = False
    # A browser that has had no open socket and made no request for this long is
    # "offline". Tornado pings every ping_seconds, so a vanished network is noticed
    # within ping_seconds + ping_timeout_seconds.
    offline_seconds: float = 1.0
    offline_check_seconds: float = 0.5
    code_check_seconds: float = 5.0
    ping_seconds: float = 10.0
    ping_timeout_seconds: float = 10.0
    # Largest WebSocket frame accepted; a chat message is far smaller, a screen
    # snapshot with every field value fits comfortably.
    max_message_bytes: int = 64 * 1024
    max_chat_chars: int = 4000
    notify_user_when_observed: bool = True
    metrics_localhost_only: bool = True
    debug: bool = False

    @property
    def database_path(self) -> Path:
        return self.sqlite_path or self.data_dir / "livehelp.sqlite3"


def _bool(raw: dict, key: str, default: bool, section: str = "") -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(section + key, f"must be true or false, not {value!r}")
    return value


def _number(raw: dict, key: str, default: float, minimum: float = 0.0,
            section: str = "") -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= minimum:
        raise ConfigError(section + key, f"must be a number greater than {minimum:g}, not {value!r}")
    return value


def _text(raw: dict, key: str, default: str, section: str = "") -> str:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, (str, int)):
        raise ConfigError(section + key, f"must be text, not {value!r}")
    return str(value)


# Prefixes naming a nested key in error messages, e.g. "twilio: number".
TWILIO = "twilio: "
LIVE_HELP = "live help: "
DATABASE = "database: "


def _twilio(raw: Any) -> TwilioConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("twilio", "must be a mapping")
    twilio = TwilioConfig(
        voice=_bool(raw, "voice", False, section=TWILIO),
        account_sid=_text(raw, "account sid", "", section=TWILIO),
        auth_token=(os.environ.get("LIVEHELP_TWILIO_AUTH_TOKEN")
                    or _text(raw, "auth token", "", section=TWILIO)),
        number=_text(raw, "number", "", section=TWILIO),
        code_minutes=_number(raw, "code minutes", 5.0, section=TWILIO),
    )
    if twilio.voice:
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
    return twilio


KNOWN_KEYS = {
    "host", "port", "data dir", "url root", "behind https load balancer", "database",
    "twilio", "allow registration", "live help", "debug", "metrics localhost only",
}
LIVE_HELP_KEYS = {
    "offline seconds", "offline check seconds", "code check seconds", "ping seconds",
    "ping timeout seconds", "max message bytes", "max chat characters",
    "notify user when observed",
}


def config_from_dict(raw: dict | None) -> Config:
    """Build a Config from the parsed YAML mapping, validating every key."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError("(top level)", "the file must hold a mapping of keys")
    for key in raw:
        if key not in KNOWN_KEYS:
            raise ConfigError(str(key), "is not a known key")
    url_root = _text(raw, "url root", "/")
    if not url_root.startswith("/"):
        raise ConfigError("url root", "must start with /")
    url_root = url_root.rstrip("/") + "/"

    database = {} if raw.get("database") is None else raw["database"]
    if not isinstance(database, dict):
        raise ConfigError("database", "must be a mapping")
    mongodb_uri = (os.environ.get("LIVEHELP_MONGODB_URI")
                   or _text(database, "mongodb uri", "", section=DATABASE))
    kind = _text(database, "type", "mongodb" if mongodb_uri else "sqlite", section=DATABASE)
    if kind not in ("sqlite", "mongodb"):
        raise ConfigError("database: type", "must be sqlite or mongodb")
    if kind == "mongodb" and not mongodb_uri:
        raise ConfigError("database: mongodb uri", "is required for type mongodb")

    live = {} if raw.get("live help") is None else raw["live help"]
    if not isinstance(live, dict):
        raise ConfigError("live help", "must be a mapping")
    for key in live:
        if key not in LIVE_HELP_KEYS:
            raise ConfigError(f"live help: {key}", "is not a known key")

    port = raw.get("port", 8080)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError("port", f"must be a port number, not {port!r}")
    sqlite_path = _text(database, "path", "", section=DATABASE)
    return Config(
        host=_text(raw, "host", "127.0.0.1"),
        port=port,
        data_dir=Path(_text(raw, "data dir", "data")),
        url_root=url_root,
        behind_https_load_balancer=_bool(raw, "behind https load balancer", False),
        database=kind,
        sqlite_path=Path(sqlite_path) if sqlite_path else None,
        mongodb_uri=mongodb_uri,
        mongodb_name=_text(database, "name", "livehelp", section=DATABASE),
        twilio=_twilio(raw.get("twilio")),
        allow_registration=_bool(raw, "allow registration", False),
        offline_seconds=_number(live, "offline seconds", 1.0, section=LIVE_HELP),
        offline_check_seconds=_number(live, "offline check seconds", 0.5, section=LIVE_HELP),
        code_check_seconds=_number(live, "code check seconds", 5.0, section=LIVE_HELP),
        ping_seconds=_number(live, "ping seconds", 10.0, section=LIVE_HELP),
        ping_timeout_seconds=_number(live, "ping timeout seconds", 10.0, section=LIVE_HELP),
        max_message_bytes=int(_number(live, "max message bytes", 64 * 1024, 1024, section=LIVE_HELP)),
        max_chat_chars=int(_number(live, "max chat characters", 4000, section=LIVE_HELP)),
        notify_user_when_observed=_bool(live, "notify user when observed", True, section=LIVE_HELP),
        metrics_localhost_only=_bool(raw, "metrics localhost only", True),
        debug=_bool(raw, "debug", False),
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
