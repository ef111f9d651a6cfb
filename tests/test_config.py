"""The YAML config: defaults, one clear error per bad key, secrets from the environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from state.config import Config, ConfigError, config_from_dict, load_config

ROOT = Path(__file__).resolve().parent.parent
GOOD_NUMBER = "+12762410114"


@pytest.fixture(autouse=True)
def no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start without the secret variables a developer may have exported."""
    monkeypatch.delenv("LIVEHELP_TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("LIVEHELP_MONGODB_URI", raising=False)


def test_no_file_gives_every_default() -> None:
    config = load_config(None)
    assert config == Config()
    assert (config.host, config.port, config.url_root) == ("127.0.0.1", 8080, "/")
    assert config.database == "sqlite"
    assert config.database_path == Path("data") / "livehelp.sqlite3"
    assert config.twilio.voice is False
    assert config.allow_registration is False
    assert config.behind_https_load_balancer is False


def test_empty_file_gives_every_default(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_config(path) == Config()


def test_keys_read_like_the_reference(tmp_path: Path) -> None:
    path = tmp_path / "livehelp.yaml"
    path.write_text(
        "url root: /help\n"
        "behind https load balancer: true\n"
        "allow registration: true\n"
        "database: {path: /var/lib/livehelp/db.sqlite3}\n"
        f"twilio: {{voice: true, account sid: AC123, auth token: secret, number: '{GOOD_NUMBER}'}}\n"
        "live help: {offline seconds: 5, code check seconds: 2}\n"
    )
    config = load_config(path)
    assert config.url_root == "/help/"
    assert config.behind_https_load_balancer and config.allow_registration
    assert config.database_path == Path("/var/lib/livehelp/db.sqlite3")
    assert (config.twilio.voice, config.twilio.account_sid, config.twilio.auth_token,
            config.twilio.number) == (True, "AC123", "secret", GOOD_NUMBER)
    assert (config.offline_seconds, config.code_check_seconds) == (5, 2)


@pytest.mark.parametrize(("raw", "key"), [
    ({"port": "eighty"}, "port"),
    ({"port": 70000}, "port"),
    ({"url root": "help"}, "url root"),
    ({"behind https load balancer": "yes"}, "behind https load balancer"),
    ({"allow registration": 1}, "allow registration"),
    ({"debug": "no"}, "debug"),
    ({"colour": "blue"}, "colour"),
    ({"database": "sqlite"}, "database"),
    ({"database": {"type": "postgres"}}, "database: type"),
    ({"database": {"type": "mongodb"}}, "database: mongodb uri"),
    ({"twilio": "on"}, "twilio"),
    ({"twilio": {"voice": "true"}}, "voice"),
    ({"twilio": {"voice": True, "auth token": "t"}}, "twilio: number"),
    ({"twilio": {"voice": True, "auth token": "t", "number": "2762410114"}}, "twilio: number"),
    ({"twilio": {"voice": True, "auth token": "t", "number": "+1 276 241 0114"}},
     "twilio: number"),
    ({"twilio": {"voice": True, "number": GOOD_NUMBER}}, "twilio: auth token"),
    ({"twilio": {"code minutes": 0}}, "code minutes"),
    ({"live help": ["offline seconds"]}, "live help"),
    ({"live help": {"offline seconds": -1}}, "offline seconds"),
    ({"live help": {"ping seconds": "often"}}, "ping seconds"),
    ({"live help": {"max message bytes": 10}}, "max message bytes"),
    ({"live help": {"nap seconds": 3}}, "live help: nap seconds"),
])
def test_each_bad_key_is_named(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_dict(raw)
    assert key in str(error.value)


@pytest.mark.parametrize(("raw", "message"), [
    ({"database": {"typ": "mongodb"}},
     "config key 'database: typ': is not a known key (did you mean 'type'?)"),
    ({"twilio": {"voicee": True}},
     "config key 'twilio: voicee': is not a known key (did you mean 'voice'?)"),
    ({"live help": {"nap seconds": 3}},
     "config key 'live help: nap seconds': is not a known key (did you mean 'ping seconds'?)"),
    ({"limits": {"colour": 3}}, "config key 'limits: colour': is not a known key"),
    ({"prot": 8080}, "config key 'prot': is not a known key (did you mean 'port'?)"),
])
def test_an_unknown_key_at_any_depth_is_refused_by_its_path(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_dict(raw)
    assert str(error.value) == message
    assert error.value.key == message.split("'")[1]


@pytest.mark.parametrize(("raw", "message"), [
    ({"port": "x"}, "config key 'port': must be a port number, not 'x'"),
    ({"live help": {"offline seconds": -1}},
     "config key 'live help: offline seconds': must be a number greater than 0, not -1"),
    ({"twilio": {"voice": "true"}}, "config key 'twilio: voice': must be true or false, not 'true'"),
    ({"database": {"name": ["a"]}}, "config key 'database: name': must be text, not ['a']"),
    ({"live help": {"max message bytes": 1024}},
     "config key 'live help: max message bytes': must be a number greater than 1024, not 1024"),
])
def test_a_wrong_value_deep_inside_is_named_by_its_path(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_dict(raw)
    assert str(error.value) == message


def test_numbers_are_text_for_text_keys_and_empty_keys_are_defaults() -> None:
    config = config_from_dict({"host": 5, "live help": None, "twilio": {"auth token": None}})
    assert config.host == "5"
    assert config.twilio.auth_token == ""
    assert config.offline_seconds == Config().offline_seconds


def readme_example() -> dict:
    """The YAML block under "## Configuration" in README.md."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Configuration", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block, "README.md has no YAML example under ## Configuration"
    return yaml.safe_load(block[1])


def readme_keys() -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []
    for key, value in readme_example().items():
        keys += [(key, inner) for inner in value] if isinstance(value, dict) else [(key,)]
    return keys


def test_the_readme_example_is_accepted_whole() -> None:
    config_from_dict(readme_example())


@pytest.mark.parametrize("key", readme_keys(), ids=": ".join)
def test_each_key_the_readme_documents_is_declared(key: tuple[str, ...]) -> None:
    value = readme_example()
    for part in key:
        value = value[part]
    raw: dict = {key[0]: value} if len(key) == 1 else {key[0]: {key[1]: value}}
    config_from_dict(raw)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- one\n- two\n")
    with pytest.raises(ConfigError):
        load_config(path)


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("port: [8080\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_config(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nowhere.yaml")


def test_twilio_auth_token_may_come_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEHELP_TWILIO_AUTH_TOKEN", "from-env")
    config = config_from_dict({"twilio": {"voice": True, "number": GOOD_NUMBER}})
    assert config.twilio.auth_token == "from-env"


def test_environment_token_wins_over_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEHELP_TWILIO_AUTH_TOKEN", "from-env")
    config = config_from_dict({"twilio": {"auth token": "from-file"}})
    assert config.twilio.auth_token == "from-env"


def test_mongodb_uri_from_the_environment_selects_mongodb(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEHELP_MONGODB_URI", "mongodb://db.example:27017")
    config = config_from_dict({})
    assert config.database == "mongodb"
    assert config.mongodb_uri == "mongodb://db.example:27017"


def test_server_exits_2_with_one_clear_line_for_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("port: eighty\n")
    result = subprocess.run(
        [sys.executable, "server.py", "--config", str(bad), "--data-dir", str(tmp_path / "d")],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "port" in lines[0] and "eighty" in lines[0]
    assert not (tmp_path / "d").exists()


MONGO = {"type": "mongodb", "mongodb uri": "mongodb://127.0.0.1:27017"}


@pytest.mark.parametrize(("raw", "message"), [
    ({"cluster": {"redis url": "redis://127.0.0.1:6379/0"}},
     ("config key 'cluster: redis url': needs the MongoDB store (database: type mongodb):"
     " several processes cannot share one SQLite file")),
    ({"database": MONGO, "cluster": {"redis url": "127.0.0.1:6379"}},
     ("config key 'cluster: redis url': must start with redis://, rediss:// or unix://,"
     " not '127.0.0.1:6379'")),
    ({"database": MONGO, "cluster": {"redis url": "redis://r", "dead after seconds": 2}},
     ("config key 'cluster: dead after seconds': must be more than twice heartbeat seconds,"
     " or a slow beat kills a live process")),
])
def test_cluster_mode_is_refused_in_plain_words_where_it_cannot_work(raw: dict,
                                                                    message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_dict(raw)
    assert str(error.value) == message


def test_cluster_mode_is_off_by_default_and_on_with_mongodb_and_redis() -> None:
    assert config_from_dict({}).cluster.redis_url == ""
    config = config_from_dict({"database": MONGO, "cluster": {
        "redis url": "redis://127.0.0.1:6379/0", "process name": "web-1"}})
    assert (config.cluster.redis_url, config.cluster.process_name) == (
        "redis://127.0.0.1:6379/0", "web-1")
