"""Turning submitted form values into answers, one datatype at a time, and back for display."""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from typing import Any

from state.interview.format import Field

# Deliberately loose: one "@", something on each side, a dot in the domain.
# Stricter patterns refuse real addresses; the mail server is the real check.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Longest text kept from one input; an interview answer is never longer, and it
# bounds what a careless or hostile form post can make us store.
MAX_TEXT_CHARS = 10_000


@dataclass
class Checked:
    """The outcome for one field: the answer to save, or an error and the typed value."""

    value: Any = None
    typed: str | list[str] = ""
    error: str | None = None
    answered: bool = False  # False when an optional field was left empty


def check(field: Field, raw: list[str]) -> Checked:
    """Validate the values the browser sent for `field` (several for checkboxes)."""
    if field.datatype == "checkboxes":
        return _check_checkboxes(field, raw)
    text = raw[-1] if raw else ""
    if field.datatype != "password":
        text = text.strip()
    typed = "" if field.secret else text
    if len(text) > MAX_TEXT_CHARS:
        return Checked(typed=typed[:MAX_TEXT_CHARS],
                       error=f"Please keep this under {MAX_TEXT_CHARS} characters.")
    if text == "":
        if field.required:
            return Checked(typed=typed, error=_missing(field))
        return Checked(value=None, typed="")
    converter = _CONVERTERS.get(field.datatype)
    if converter is None:
        return Checked(value=text, typed=typed, answered=True)
    try:
        value = converter(field, text)
    except ValueError as error:
        return Checked(typed=typed, error=str(error))
    return Checked(value=value, typed=typed, answered=True)


def _missing(field: Field) -> str:
    if field.datatype in ("radio", "yesno"):
        return "Please choose one."
    return "Please fill this in."


def _check_checkboxes(field: Field, raw: list[str]) -> Checked:
    allowed = [c.value for c in field.choices]
    picked = [v for v in allowed if v in raw]  # keeps the interview's order, drops duplicates
    if any(v not in allowed for v in raw):
        return Checked(typed=picked, error="Please choose from the options shown.")
    if field.required and not picked:
        return Checked(typed=picked, error="Please choose at least one.")
    return Checked(value=picked, typed=picked, answered=True)


def _number(field: Field, text: str) -> int | float:
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise ValueError("Please enter a number, like 12 or 3.5.") from None
    if not math.isfinite(number):
        raise ValueError("Please enter a number, like 12 or 3.5.")
    return int(number) if number.is_integer() and "." not in text else number


def _email(field: Field, text: str) -> str:
    if not EMAIL_PATTERN.match(text):
        raise ValueError("Please enter an email address, like name@example.com.")
    return text


def _date(field: Field, text: str) -> str:
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError("Please enter a date as YYYY-MM-DD.") from None


def _radio(field: Field, text: str) -> str:
    if text not in {c.value for c in field.choices}:
        raise ValueError("Please choose from the options shown.")
    return text


def _yesno(field: Field, text: str) -> bool:
    if text not in ("yes", "no"):
        raise ValueError("Please choose Yes or No.")
    return text == "yes"


_CONVERTERS = {"number": _number, "email": _email, "date": _date, "radio": _radio,
               "yesno": _yesno}


def as_typed(field: Field, answer: Any) -> str | list[str]:
    """A saved answer in the form a page input shows it (empty for secrets)."""
    if field.secret or answer is None:
        return [] if field.datatype == "checkboxes" else ""
    if field.datatype == "checkboxes":
        return [str(v) for v in answer] if isinstance(answer, list) else []
    if field.datatype == "yesno":
        return "yes" if answer is True else "no" if answer is False else ""
    return str(answer)


def describe(answer: Any) -> str:
    """A saved answer as words for a review screen."""
    if answer is None or answer == "" or answer == []:
        return "Not answered yet"
    if isinstance(answer, bool):
        return "Yes" if answer else "No"
    if isinstance(answer, list):
        return ", ".join(str(v) for v in answer)
    return str(answer)
