"""Parsing one interview YAML file into `Interview` objects (the format is in interviews.py).

Everything is checked once, at load time, so a mistake in an interview file is
reported with the file and item it is in, not discovered by a user mid-interview.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DATATYPES = ("text", "textarea", "email", "number", "date", "radio", "checkboxes", "yesno",
             "password")
# Datatypes whose value is picked from `choices`.
CHOICE_DATATYPES = ("radio", "checkboxes")
# Field names become form input names and Python names in code blocks; the
# leading-underscore space is kept for the form's own inputs (_xsrf, _action, _screen).
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
SCREEN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
ITEM_KEYS = {"id", "question", "subquestion", "help", "fields", "if", "code", "review",
             "final", "operators only", "continue button label", "resume button label"}


class InterviewError(ValueError):
    """An interview file is not valid; the message names the file and the item."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One input of a question screen."""

    name: str
    label: str
    datatype: str = "text"
    required: bool = True
    choices: tuple[Choice, ...] = ()
    private: bool = False

    @property
    def secret(self) -> bool:
        """Values never written back into a page or shown on a review screen."""
        return self.private or self.datatype == "password"


@dataclass(frozen=True)
class ReviewItem:
    """One row of a review screen: an answer and the screen that asks for it."""

    label: str
    name: str
    text: str | None = None  # optional Jinja2 sentence shown instead of the bare value
    screen: str | None = None  # screen id the "Change" button goes back to


@dataclass(frozen=True)
class CodeBlock:
    """Python run when the walk through the interview reaches it."""

    source: str
    condition: str | None = None
    label: str = ""  # "file.yaml item 3", for error messages and tracebacks


@dataclass(frozen=True)
class Screen:
    """A question screen (possibly a review, final or operators-only one)."""

    id: str
    question: str
    subquestion: str = ""
    help: str = ""
    fields: tuple[Field, ...] = ()
    review: tuple[ReviewItem, ...] = ()
    condition: str | None = None
    final: bool = False
    operators_only: bool = False
    continue_label: str = "Continue"


Item = Screen | CodeBlock


@dataclass
class Interview:
    """A loaded interview: its name (the file stem), title, help and items in order."""

    name: str
    title: str
    items: list[Item]
    help: str = ""
    multi_user: bool = False
    # Whether any code or text calls get_chat_log(): only then does a run read the
    # chat log from the store beforehand.
    reads_chat_log: bool = False
    screens: dict[str, Screen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.screens = {item.id: item for item in self.items if isinstance(item, Screen)}

    def screen_asking(self, name: str) -> Screen | None:
        """The first ordinary screen with a field called `name`."""
        for screen in self.screens.values():
            if not screen.operators_only and any(f.name == name for f in screen.fields):
                return screen
        return None


def _text(value: Any, where: str, key: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise InterviewError(f"{where}: '{key}' must be text")
    return str(value)


def _choices(raw: Any, where: str) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or not raw:
        raise InterviewError(f"{where}: 'choices' must be a non-empty list")
    choices = []
    for entry in raw:
        if isinstance(entry, dict) and set(entry) <= {"label", "value"} and "value" in entry:
            value = _text(entry["value"], where, "value")
            choices.append(Choice(value, _text(entry.get("label"), where, "label", value)))
        elif isinstance(entry, (str, int, float)) and not isinstance(entry, bool):
            choices.append(Choice(str(entry), str(entry)))
        else:
            raise InterviewError(f"{where}: a choice is text or {{label, value}}")
    if len({c.value for c in choices}) != len(choices):
        raise InterviewError(f"{where}: two choices have the same value")
    return tuple(choices)


def _field(raw: Any, where: str) -> Field:
    if not isinstance(raw, dict):
        raise InterviewError(f"{where}: each field is a mapping")
    unknown = set(raw) - {"label", "name", "datatype", "required", "choices", "private"}
    if unknown:
        raise InterviewError(f"{where}: unknown field keys {sorted(unknown)}")
    name = _text(raw.get("name"), where, "name")
    if not NAME_PATTERN.match(name) or keyword.iskeyword(name):
        raise InterviewError(f"{where}: field name {name!r} must be a Python name "
                             "not starting with '_'")
    label = _text(raw.get("label"), where, "label")
    if not label:
        raise InterviewError(f"{where}: field {name!r} needs a label")
    datatype = _text(raw.get("datatype"), where, "datatype", "text")
    if datatype not in DATATYPES:
        raise InterviewError(f"{where}: datatype {datatype!r} is not one of {', '.join(DATATYPES)}")
    choices: tuple[Choice, ...] = ()
    if datatype in CHOICE_DATATYPES:
        choices = _choices(raw.get("choices"), f"{where} field {name!r}")
    elif "choices" in raw:
        raise InterviewError(f"{where}: only radio and checkboxes fields take choices")
    required, private = raw.get("required", True), raw.get("private", False)
    if not isinstance(required, bool) or not isinstance(private, bool):
        raise InterviewError(f"{where}: 'required' and 'private' are true or false")
    return Field(name, label, datatype, required, choices, private)


def _review(raw: Any, where: str) -> tuple[ReviewItem, ...]:
    if not isinstance(raw, list):
        raise InterviewError(f"{where}: 'review' must be a list")
    rows = []
    for entry in raw:
        if not isinstance(entry, dict) or "name" not in entry:
            raise InterviewError(f"{where}: each review row needs at least a 'name'")
        name = _text(entry["name"], where, "name")
        rows.append(ReviewItem(
            label=_text(entry.get("label"), where, "label", name),
            name=name,
            text=_text(entry.get("text"), where, "text") or None,
            screen=_text(entry.get("screen"), where, "screen") or None,
        ))
    return tuple(rows)


def _condition(raw: dict, where: str) -> str | None:
    if "if" not in raw:
        return None
    condition = _text(raw["if"], where, "if")
    try:
        compile(condition, where, "eval")
    except SyntaxError as error:
        raise InterviewError(f"{where}: 'if' is not a Python expression: {error.msg}") from None
    return condition


def _item(raw: Any, index: int, where: str) -> Item:
    if not isinstance(raw, dict):
        raise InterviewError(f"{where}: each item is a mapping")
    unknown = set(raw) - ITEM_KEYS
    if unknown:
        raise InterviewError(f"{where}: unknown keys {sorted(unknown)}")
    condition = _condition(raw, where)
    if "code" in raw:
        if set(raw) - {"code", "if", "id"}:
            raise InterviewError(f"{where}: a code item has only 'code' and 'if'")
        source = _text(raw["code"], where, "code")
        try:
            compile(source, where, "exec")
        except SyntaxError as error:
            raise InterviewError(f"{where}: code does not compile: {error.msg}") from None
        return CodeBlock(source, condition, where)
    screen_id = _text(raw.get("id"), where, "id", f"screen{index}")
    if not SCREEN_ID_PATTERN.match(screen_id):
        raise InterviewError(f"{where}: id {screen_id!r} may use letters, digits, '-' and '_'")
    question = _text(raw.get("question"), where, "question")
    if not question:
        raise InterviewError(f"{where}: a screen needs a 'question'")
    fields_raw = raw.get("fields", [])
    if not isinstance(fields_raw, list):
        raise InterviewError(f"{where}: 'fields' must be a list")
    fields = tuple(_field(f, f"{where} ({screen_id})") for f in fields_raw)
    if len({f.name for f in fields}) != len(fields):
        raise InterviewError(f"{where}: two fields of one screen share a name")
    operators_only, final = raw.get("operators only", False), raw.get("final", False)
    if not isinstance(operators_only, bool) or not isinstance(final, bool):
        raise InterviewError(f"{where}: 'operators only' and 'final' are true or false")
    default_label = "Refresh" if operators_only else "Continue"
    label = raw.get("resume button label", raw.get("continue button label"))
    return Screen(
        id=screen_id, question=question,
        subquestion=_text(raw.get("subquestion"), where, "subquestion"),
        help=_text(raw.get("help"), where, "help"),
        fields=fields,
        review=_review(raw["review"], where) if "review" in raw else (),
        condition=condition, final=final, operators_only=operators_only,
        continue_label=_text(label, where, "continue button label", default_label),
    )


def parse_interview(name: str, document: Any, source: str = "") -> Interview:
    """Build an Interview from the parsed YAML of one file."""
    source = source or f"{name}.yaml"
    if not isinstance(document, dict):
        raise InterviewError(f"{source}: the file must be a mapping")
    unknown = set(document) - {"metadata", "help", "multi user", "items"}
    if unknown:
        raise InterviewError(f"{source}: unknown top-level keys {sorted(unknown)}")
    metadata = document.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InterviewError(f"{source}: 'metadata' must be a mapping")
    title = _text(metadata.get("title"), source, "metadata.title") or name
    multi_user = document.get("multi user", False)
    if not isinstance(multi_user, bool):
        raise InterviewError(f"{source}: 'multi user' is true or false")
    raw_items = document.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise InterviewError(f"{source}: 'items' must be a non-empty list")
    items = [_item(raw, i + 1, f"{source} item {i + 1}") for i, raw in enumerate(raw_items)]
    screens = [item for item in items if isinstance(item, Screen)]
    if not screens:
        raise InterviewError(f"{source}: an interview needs at least one screen")
    ids = [s.id for s in screens]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InterviewError(f"{source}: screen ids used twice: {', '.join(duplicates)}")
    for screen in screens:
        for row in screen.review:
            if row.screen and row.screen not in ids:
                raise InterviewError(f"{source}: review row {row.label!r} names unknown "
                                     f"screen {row.screen!r}")
    return Interview(name=name, title=title, items=items,
                     help=_text(document.get("help"), source, "help"), multi_user=multi_user,
                     reads_chat_log="get_chat_log" in repr(document))


def load_interview(path: Path) -> Interview:
    """Read and parse one interview file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InterviewError(f"{path.name}: not valid YAML: {error}") from None
    return parse_interview(path.stem, document, path.name)
