"""Every start-up failure is one line naming the cause and the fix (exit code 2 for the
configuration, 1 for the machine), and nothing is written before the server can listen.
Each test runs `server.py` as a process, as a person would."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from bench.common import LiveHelpProcess, free_port

ROOT = Path(__file__).resolve().parent.parent


def start(tmp_path: Path, *args: str, config: str = "") -> subprocess.CompletedProcess:
    """`server.py` with a config file and the given arguments, until it exits."""
    config_file = tmp_path / "livehelp.yaml"
    config_file.write_text(config or "{}\n")
    return subprocess.run([sys.executable, "server.py", "--config", str(config_file), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def the_one_line(run: subprocess.CompletedProcess) -> str:
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_a_port_in_use_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = start(tmp_path, "--port", str(port), "--data-dir", str(tmp_path / "data"))
    assert run.returncode == 1
    assert the_one_line(run) == (f"livehelp: not started: port {port} on 127.0.0.1 is in use "
                                 "by another program; stop it or choose another port with --port")
    assert not (tmp_path / "data").exists()  # no first admin whose password nobody saw


def test_a_host_that_is_not_this_machine_is_a_configuration_error(tmp_path: Path) -> None:
    run = start(tmp_path, "--data-dir", str(tmp_path / "data"), config="host: 5\nport: 0\n")
    assert run.returncode == 2
    assert the_one_line(run).startswith("livehelp: not started: config key 'host': 5 is not ")


def test_a_data_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    run = start(tmp_path, "--port", "0", "--data-dir", str(tmp_path / "file" / "data"))
    assert run.returncode == 1
    assert the_one_line(run) == (
        f"livehelp: not started: cannot create the data directory {tmp_path / 'file' / 'data'}: "
        "Not a directory; choose another with --data-dir")


def test_mongodb_where_nothing_listens_is_one_line_within_seconds(tmp_path: Path) -> None:
    uri = f"mongodb://127.0.0.1:{free_port()}"
    run = start(tmp_path, "--port", "0", "--data-dir", str(tmp_path / "data"),
                config=f"database:\n  type: mongodb\n  mongodb uri: {uri}\n")
    assert run.returncode == 1
    assert the_one_line(run) == (f"livehelp: not started: cannot use the store: MongoDB at {uri} "
                                 "did not answer; is it running and reachable from here?")


def test_a_second_server_on_one_data_directory_is_refused_naming_the_first(
        tmp_path: Path) -> None:
    first = LiveHelpProcess(tmp_path / "data").start()
    try:
        run = start(tmp_path, "--port", "0", "--data-dir", str(tmp_path / "data"))
    finally:
        first.stop()
    assert run.returncode == 1
    line = the_one_line(run)
    assert line.startswith(f"livehelp: not started: cannot use the store: another livehelp "
                           f"server (pid {first.process.pid}) writes chat to ")


def test_an_unknown_key_is_a_configuration_error_with_a_suggestion(tmp_path: Path) -> None:
    run = start(tmp_path, config="database:\n  typ: mongodb\n")
    assert run.returncode == 2
    assert the_one_line(run) == ("livehelp: config key 'database: typ': is not a known key "
                                 "(did you mean 'type'?)")

