"""Parsing one interview YAML file into `Interview` objects (the format is in library.py).

The file's shape is declared as msgspec structs and checked in one step, so a misspelt
or misplaced key at any depth is refused, not ignored; then the rules a shape cannot
express (names, ids, code that compiles). All at load time, so a mistake is reported
with its file, item and key rather than met by a user mid-interview.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec
import yaml
from msgspec import UNSET, UnsetType

Datatype = Literal["text", "textarea", "email", "number", "date", "radio", "checkboxes",
                   "yesno", "password"]
DATATYPES: tuple[str, ...] = get_args(Datatype)
# Datatypes whose value is picked from `choices`.
CHOICE_DATATYPES = ("radio", "checkboxes")
# Field names become form input names and Python names in code blocks; the
# leading-underscore space is kept for the form's own inputs (_xsrf, _action, _screen).
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
SCREEN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


class InterviewError(ValueError):
    """An interview file is not valid; the message names the file, the item and the key."""


# The declared shape of a file. Numbers are accepted where text is (a choice `1`, a
# label `2024`) and turned into text; true/false are not. An empty value (None) means
# "not given". UNSET marks keys whose mere presence matters.
Text = str | int | float | None


class _Spec(msgspec.Struct, forbid_unknown_fields=True):
    """Base of the file's structs: a key not declared here is a mistake."""


class ChoiceSpec(_Spec):
    value: Text
    label: Text = None


class FieldSpec(_Spec):
    name: Text = None
    label: Text = None
    datatype: Datatype | None = None
    required: bool = True
    private: bool = False
    choices: list[ChoiceSpec | str | int | float] | UnsetType = UNSET


class ReviewSpec(_Spec):
    name: Text
    label: Text = None
    text: Text = None
    screen: Text = None


class ItemSpec(_Spec):
    """A screen or, when `code` is given, a code block (checked after decoding: no tag)."""

    code: Text | UnsetType = UNSET
    condition: Text | UnsetType = msgspec.field(default=UNSET, name="if")
    id: Text = None
    question: Text = None
    subquestion: Text = None
    help: Text = None
    fields: list[FieldSpec] = []
    review: list[ReviewSpec] = []
    final: bool = False
    operators_only: bool = msgspec.field(default=False, name="operators only")
    continue_label: Text = msgspec.field(default=None, name="continue button label")
    resume_label: Text = msgspec.field(default=None, name="resume button label")


class MetadataSpec(_Spec):
    title: Text = None


class InterviewSpec(_Spec):
    metadata: MetadataSpec | None = None
    help: Text = None
    multi_user: bool = msgspec.field(default=False, name="multi user")
    items: list[ItemSpec] = []


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
    screens: dict[str, Screen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.screens = {item.id: item for item in self.items if isinstance(item, Screen)}

    def screen_asking(self, name: str) -> Screen | None:
        """The first ordinary screen with a field called `name`."""
        for screen in self.screens.values():
            if not screen.operators_only and any(f.name == name for f in screen.fields):
                return screen
        return None

    def mentions(self, name: str) -> bool:
        """Whether any code, condition or text uses `name`, so a run can skip loading
        what nothing asks for (e.g. the chat log when nothing calls get_chat_log)."""
        pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
        return any(pattern.search(text) for text in _strings([self.title, self.help, self.items]))


def _strings(value: Any) -> Iterator[str]:
    """Every text in `value` (items, their fields...): code, conditions, templates, labels."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for entry in value:
            yield from _strings(entry)
    elif dataclasses.is_dataclass(value):
        for entry in dataclasses.fields(value):
            yield from _strings(getattr(value, entry.name))


def _str(value: Text, default: str = "") -> str:
    return default if value is None else str(value)


def _shown(value: Any) -> str:
    """A value as the file's author wrote it, on one line."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, datetime.date):  # YAML reads an unquoted 2024-01-31 as a date
        return f"the date {value} (quote it to make it text)"
    words = {type(None): "an empty value", dict: "a mapping", list: "a list"}
    return str(value).lower() if isinstance(value, bool) else words.get(type(value), str(value))


# For messages: words for msgspec's type names, the struct under each key, and
# the name of an entry of each list.
_TYPE_WORDS = {"str": "text", "bool": "true or false", "array": "a list", "object": "a mapping"}
_STRUCT_UNDER = {"": InterviewSpec, "metadata": MetadataSpec, "items": ItemSpec,
                 "fields": FieldSpec, "choices": ChoiceSpec, "review": ReviewSpec}
_ENTRY = {"items": "item", "fields": "field", "choices": "choice", "review": "review row"}


def _item_place(index: int, raw: Any) -> str:
    """"item 3 (fruit)": the item's number and, for a screen, its id."""
    if not isinstance(raw, dict) or "code" in raw:
        return f"item {index}"
    return f"item {index} ({_str(raw.get('id'), f'screen{index}')})"


def _explain(error: msgspec.ValidationError, document: Any, source: str) -> InterviewError:
    """msgspec's "... - at `$.items[2].fields[0]`" in the file's own words."""
    message, _, path = str(error).partition(" - at `")
    if path.startswith("key` in `"):  # a key that is not text, in the mapping at the path
        message, path = "every key must be text", path[len("key` in `"):]
    words, noun, container, key, value = [source], "file", "", "", document
    for name, index in re.findall(r"\.([^.\[`]+)|\[(\d+)\]", path):
        if name and key:  # a mapping within a mapping ("metadata")
            words.append(key)
            container = key
        if name:
            value, key = value[name], name
            continue
        value, number, noun = value[int(index)], int(index) + 1, _ENTRY.get(key, key)
        words.append(_item_place(number, value) if key == "items" else f"{noun} {number}")
        container, key = key, ""
    if key and not message.startswith(("Expected", "Invalid")):  # about the mapping at key
        words.append(key)
        container, key = key, ""
    subject = f"'{key}'" if key else f"this {noun}"
    if found := re.fullmatch(r"Object contains unknown field `(.*)`", message):
        known = [f.encode_name for f in msgspec.structs.fields(_STRUCT_UNDER[container])]
        close = difflib.get_close_matches(found[1], known, n=1)
        text = f"unknown key '{found[1]}'" + (f" (did you mean '{close[0]}'?)" if close else "")
    elif found := re.fullmatch(r"Object missing required field `(.*)`", message):
        text = f"missing key '{found[1]}'"
    elif message.startswith("Invalid enum value"):  # the only enum: datatype
        text = f"{subject} must be one of {', '.join(DATATYPES)}, not {_shown(value)}"
    elif found := re.fullmatch(r"Expected `(.*?)`.*", message):
        names = found[1].split(" | ")
        expected = [word for name, word in _TYPE_WORDS.items() if name in names] or names
        text = f"{subject} must be {' or '.join(expected)}, not {_shown(value)}"
    else:
        text = message.replace("`", "'")
    return InterviewError(f"{' '.join(words)}: {text}")


def _compiled(source: str, where: str, mode: str, what: str) -> str:
    try:
        compile(source, where, mode)
    except SyntaxError as error:
        raise InterviewError(f"{where}: {what}: {error.msg} (line {error.lineno})") from None
    return source


def _check(ok: object, where: str, message: str) -> None:
    if not ok:
        raise InterviewError(f"{where}: {message}")


def _choices(spec: FieldSpec, where: str) -> tuple[Choice, ...]:
    _check(spec.choices, where, "'choices' must be a non-empty list")
    entries = [(e.value, e.label) if isinstance(e, ChoiceSpec) else (e, e) for e in spec.choices]
    choices = tuple(Choice(_str(value), _str(label, _str(value))) for value, label in entries)
    values = [c.value for c in choices]
    twice = ", ".join(sorted({repr(v) for v in values if values.count(v) > 1}))
    _check(not twice, where, f"two choices have the same value {twice}")
    return choices


def _field(spec: FieldSpec, where: str) -> Field:
    name = _str(spec.name)
    _check(NAME_PATTERN.match(name) and not keyword.iskeyword(name), where,
           f"field name {name!r} must be a Python name not starting with '_'")
    label, datatype = _str(spec.label), spec.datatype or "text"
    _check(label, where, f"field {name!r} needs a label")
    takes_choices = datatype in CHOICE_DATATYPES
    _check(takes_choices or spec.choices is UNSET, where,
           "only radio and checkboxes fields take choices")
    choices = _choices(spec, where) if takes_choices else ()
    return Field(name, label, datatype, spec.required, choices, spec.private)


def _item(spec: ItemSpec, raw: dict, index: int, source: str) -> Item:
    where = f"{source} {_item_place(index, raw)}"
    condition = None if spec.condition is UNSET else _compiled(
        _str(spec.condition), where, "eval", "'if' is not a Python expression")
    if spec.code is not UNSET:
        extra = ", ".join(map(repr, sorted(set(raw) - {"code", "if", "id"})))
        _check(not extra, where, f"a code item has only 'code', 'if' and 'id', not {extra}")
        source_code = _compiled(_str(spec.code), where, "exec", "code does not compile")
        return CodeBlock(source_code, condition, f"{source} item {index}")
    screen_id = _str(spec.id, f"screen{index}")
    _check(SCREEN_ID_PATTERN.match(screen_id), where,
           f"id {screen_id!r} may use letters, digits, '-' and '_'")
    question = _str(spec.question)
    _check(question, where, "a screen needs a 'question'")
    fields = tuple(_field(f, f"{where} field {i}") for i, f in enumerate(spec.fields, 1))
    _check(len({f.name for f in fields}) == len(fields), where,
           "two fields of one screen share a name")
    review = tuple(ReviewItem(label=_str(row.label, _str(row.name)), name=_str(row.name),
                              text=_str(row.text) or None, screen=_str(row.screen) or None)
                   for row in spec.review)
    label = spec.resume_label if spec.resume_label is not None else spec.continue_label
    return Screen(
        id=screen_id, question=question, subquestion=_str(spec.subquestion),
        help=_str(spec.help), fields=fields, review=review, condition=condition,
        final=spec.final, operators_only=spec.operators_only,
        continue_label=_str(label, "Refresh" if spec.operators_only else "Continue"),
    )


def parse_interview(name: str, document: Any, source: str = "") -> Interview:
    """Build an Interview from the parsed YAML of one file."""
    source = source or f"{name}.yaml"
    if not isinstance(document, dict):
        raise InterviewError(f"{source}: the file must be a mapping, not {_shown(document)}")
    try:
        spec = msgspec.convert(document, InterviewSpec)
    except msgspec.ValidationError as error:
        raise _explain(error, document, source) from None
    _check(spec.items, source, "'items' must be a non-empty list")
    items = [_item(item, raw, i, source)
             for i, (item, raw) in enumerate(zip(spec.items, document["items"]), 1)]
    screens = [item for item in items if isinstance(item, Screen)]
    _check(screens, source, "an interview needs at least one screen")
    ids = [s.id for s in screens]
    duplicates = ", ".join(sorted({i for i in ids if ids.count(i) > 1}))
    _check(not duplicates, source, f"screen ids used twice: {duplicates}")
    for screen in screens:
        for row in screen.review:
            _check(not row.screen or row.screen in ids, f"{source} screen {screen.id!r}",
                   f"review row {row.label!r} names unknown screen {row.screen!r}")
    title = _str(spec.metadata.title if spec.metadata else None) or name
    return Interview(name=name, title=title, items=items, help=_str(spec.help),
                     multi_user=spec.multi_user)


def load_interview(path: Path) -> Interview:
    """Read and parse one interview file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:  # PyYAML's own message spans lines, with a caret
        mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        text = " ".join(str(problem or error).split())
        raise InterviewError(f"{path.name}: not valid YAML: {text}{at}") from None
    return parse_interview(path.stem, document, path.name)
