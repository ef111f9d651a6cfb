"""docs/protocol.md and the declared messages (handlers/messages.py) say the same:
each socket's client → server types, and each type's fields."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from handlers import messages

PROTOCOL = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
SOCKETS = {"Interviewee socket": messages.USER_MESSAGES,
           "Operator socket": messages.MONITOR_MESSAGES}
# A field is a backticked name at the start of the fields cell or after ", ".
FIELD = re.compile(r"(?:^|, )`(\w+)`")


def documented() -> dict[str, dict[str, set[str]]]:
    """Socket heading -> {type: field names} from every "Client → server" table under it."""
    found: dict[str, dict[str, set[str]]] = {name: {} for name in SOCKETS}
    socket, in_table = None, False
    for line in PROTOCOL.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            socket = next((name for name in SOCKETS if line.lstrip("# ") == name), None)
            in_table = False
        elif line.startswith("Client → server"):
            in_table = socket is not None
        elif in_table and line.startswith("| `"):
            types_cell, fields_cell = (cell.strip() for cell in line.strip("|").split("|")[:2])
            for kind in re.findall(r"`(\w+)`", types_cell):
                found[socket][kind] = set(FIELD.findall(fields_cell))
        elif in_table and line.strip() and not line.startswith("|"):
            in_table = False
    return found


def declared(types: tuple[type[messages.Message], ...]) -> dict[str, set[str]]:
    return {t.kind(): {f.name for f in msgspec.structs.fields(t)} for t in types}


@pytest.mark.parametrize("socket", sorted(SOCKETS))
def test_the_document_lists_exactly_the_declared_types_and_fields(socket: str) -> None:
    assert documented()[socket] == declared(SOCKETS[socket])


def test_the_parser_reads_every_table() -> None:
    """Guards the test above against a parser that finds nothing (and so agrees with {})."""
    tables = documented()
    assert len(tables["Interviewee socket"]) == 10 and len(tables["Operator socket"]) == 28


# Where the server makes an error reply: the code is the first argument.
ERROR_CALL = re.compile(
    r"(?:LiveHelpError|Refused|_refuse|send_refusal|super\(\).__init__)\(\s*\"([a-z_]+)\"")


def codes_the_server_sends() -> set[str]:
    root = PROTOCOL.parent.parent
    return {code for path in [*root.glob("state/**/*.py"), *root.glob("handlers/*.py")]
            for code in ERROR_CALL.findall(path.read_text(encoding="utf-8"))}


def documented_codes() -> set[str]:
    text = PROTOCOL.read_text(encoding="utf-8")
    table = text[text.index("### Error codes"):text.index("## Chat messages")]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))


def test_every_error_code_sent_is_documented_and_every_documented_one_is_sent() -> None:
    sent = codes_the_server_sends()
    assert len(sent) > 20, "the search finds nothing: the test would pass for nothing"
    assert documented_codes() == sent
