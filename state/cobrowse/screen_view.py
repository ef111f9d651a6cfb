"""An interview screen as an operator's observe view draws it, and the values it may carry.

The operator's page builds a disabled copy of the user's form from this
description with createElement/textContent, so everything in it is plain text:
interview text comes out of the sandboxed, autoescaped Jinja render and is
turned back into text here (tags dropped, entities decoded), never into markup.

No Tornado here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from state.interview.fields import MAX_TEXT_CHARS
from state.interview.format import Field
from state.interview.runner import Page
from state.livehelp.errors import LiveHelpError

# The paragraphs InterviewRun.render(paragraphs=True) makes.
_PARAGRAPH_SPLIT = re.compile(r"</p>\s*<p>")
FieldValue = str | list[str]


def _text(markup: Markup | str) -> str:
    """Rendered interview text as plain text (tags dropped, entities decoded)."""
    return Markup(markup).striptags() if markup else ""


def _paragraphs(markup: Markup | str) -> list[str]:
    parts = _PARAGRAPH_SPLIT.split(str(markup)) if markup else []
    return [text for text in (_text(Markup(part)) for part in parts) if text]


def _choices(item: Field) -> list[dict[str, str]]:
    if item.datatype == "yesno":
        return [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]
    return [{"value": c.value, "label": c.label} for c in item.choices]


@dataclass
class ScreenView:
    """The screen a user's page shows: its description and the rules for its values."""

    screen_id: str
    description: dict[str, Any]
    fields: dict[str, Field] = field(default_factory=dict)
    actions: set[str] = field(default_factory=set)

    def public_field(self, name: str) -> Field:
        """The field `name` if values may travel for it; refuses otherwise."""
        item = self.fields.get(name)
        if item is None:
            raise LiveHelpError("not_on_screen", "That field is not on the current screen.")
        if item.secret:
            raise LiveHelpError("private_field", "That field is private; its value stays "
                                "in the user's browser.")
        return item

    def clean_values(self, raw: Any) -> dict[str, FieldValue]:
        """The values of public fields of this screen; anything else is dropped silently
        (a page may send more than it should; nothing private may pass through)."""
        values: dict[str, FieldValue] = {}
        if not isinstance(raw, dict):
            return values
        for name, value in raw.items():
            item = self.fields.get(name) if isinstance(name, str) else None
            if item is None or item.secret:
                continue
            try:
                values[name] = clean_value(item, value)
            except LiveHelpError:
                continue
        return values


def clean_value(item: Field, value: Any) -> FieldValue:
    """A value as an input of `item` can hold it: a list of choices for checkboxes,
    a choice (or "") for radio and yes/no, bounded text otherwise."""
    if item.datatype == "checkboxes":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise LiveHelpError("bad_field", "'value' must be a list of choices")
        allowed = [c.value for c in item.choices]
        return [v for v in allowed if v in value]
    if not isinstance(value, str):
        raise LiveHelpError("bad_field", "'value' must be a string")
    if item.datatype in ("radio", "yesno"):
        if value and value not in {c["value"] for c in _choices(item)}:
            raise LiveHelpError("bad_field", "'value' is not one of the choices")
        return value
    if len(value) > MAX_TEXT_CHARS:
        raise LiveHelpError("bad_field", f"'value' must be at most {MAX_TEXT_CHARS} characters")
    return value


def describe_page(page: Page) -> ScreenView:
    """What the operator's view needs of a rendered screen; values are not part of it."""
    fields = []
    for view in page.fields:
        item = view.field
        fields.append({
            "name": item.name, "label": item.label, "datatype": item.datatype,
            "required": item.required, "private": item.secret, "choices": _choices(item),
        })
    buttons = [{"action": action, "label": label} for action, label in page.buttons]
    review = []
    for row in page.review:
        action = f"change:{row.screen_id}" if row.screen_id else None
        review.append({"label": _text(row.label), "text": _text(row.text), "action": action})
    description = {
        "id": page.screen.id,
        "question": _text(page.question),
        "subquestion": _paragraphs(page.subquestion),
        "fields": fields,
        "review": review,
        "buttons": buttons,
    }
    actions = {b["action"] for b in buttons} | {r["action"] for r in review if r["action"]}
    return ScreenView(page.screen.id, description, {f.field.name: f.field for f in page.fields},
                      actions)
