"""MongoDB for tests: an nx-27017 server per test session, and a real MongoDB on request.

`mongo_uri` starts nx-27017 (a MongoDB wire-protocol server on SQLite) on a free
port in a temp directory and stops it when the session ends. Set `MONGODB_URI`
to also run the store contract suite against a real MongoDB (`real_mongodb_uri()`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

# nx-27017 imports a good deal at start; on a loaded CI machine it can take seconds.
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


def real_mongodb_uri() -> str | None:
    """The URI of a real MongoDB to test against, from MONGODB_URI; None when unset."""
    return os.environ.get("MONGODB_URI") or None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _nx_command() -> list[str]:
    executable = shutil.which("nx-27017")
    if executable:
        return [executable]
    # The package has no __main__, but its main module runs main() when executed.
    return [sys.executable, "-m", "nx_27017.nx_27017"]


def _answers_ping(uri: str) -> bool:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=500)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _log_tail(log_file: Path, output_file: Path) -> str:
    text = ""
    for path in (output_file, log_file):
        if path.exists():
            text += path.read_text(errors="replace")[-2000:]
    return text


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI (`mongodb://127.0.0.1:PORT`) of an nx-27017 server started for this test
    session in a temp directory; each test should use its own database name."""
    directory = tmp_path_factory.mktemp("nx27017")
    port = _free_port()
    log_file = directory / "nx-27017.log"
    output_file = directory / "nx-27017.out"
    command = [*_nx_command(), "--host", "127.0.0.1", "--port", str(port),
               "--data-dir", str(directory / "data"),
               "--pid-file", str(directory / "nx-27017.pid"), "--log-file", str(log_file)]
    uri = f"mongodb://127.0.0.1:{port}"
    with output_file.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   cwd=directory)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _answers_ping(uri):
            if process.poll() is not None:
                pytest.fail(f"nx-27017 exited with {process.returncode}:\n"
                            f"{_log_tail(log_file, output_file)}")
            if time.monotonic() > deadline:
                pytest.fail(f"nx-27017 did not answer within {START_TIMEOUT_SECONDS}s:\n"
                            f"{_log_tail(log_file, output_file)}")
            time.sleep(0.1)
        yield uri
    finally:
        _stop(process)
