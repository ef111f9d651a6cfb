"""Walking one interview session: which screen is current, rendering it, taking a submission.

Pure apart from the record it is given: no I/O, no Tornado. The caller loads the
record, makes the author API it was handed ready for this session, uses an
`InterviewRun` (made by `InterviewLibrary.run`), then saves the record.

Where the user is comes from the answers and `record.progress`:
  progress["done"]     ids of screens the session has completed, in any order
  progress["revisit"]  participant -> screen id they chose to change from a review
The current screen is the first applicable screen not yet done, so reloading a
page shows the same screen and several people in one session move together.
"""

from __future__ import annotations

import builtins
import functools
import json
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import ChainableUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from state.interview.fields import as_typed, check, describe
from state.interview.format import CodeBlock, Field, Interview, Screen
from state.store.base import SessionRecord

# Shown when every screen is done and the interview has no final screen.
END_SCREEN = Screen(id="_end", question="You have reached the end of this interview.", final=True)

# Interview text may be shown to anyone; the sandbox keeps a template from reaching
# Python internals, autoescape keeps answers (typed by people) from becoming markup.
_jinja = SandboxedEnvironment(autoescape=True, undefined=ChainableUndefined)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def template_environment() -> SandboxedEnvironment:
    """The sandbox interview texts render in (state/interview/check.py compiles with it)."""
    return _jinja


@functools.lru_cache(maxsize=1024)
def _template(source: str):
    """Compiled once per distinct text: interview files do not change while running."""
    return _jinja.from_string(source)


def _line_in(error: BaseException, filename: str) -> str:
    """", line N" of the innermost traceback frame in `filename` (a code block's label,
    or Jinja's "<template>"), or "" when there is none."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if frame.filename == filename]
    return f", line {lines[-1]}" if lines else ""


class InterviewRuntimeError(RuntimeError):
    """An interview's condition, code block or template failed while running."""


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the session."""

    participant: str  # "u:<user id>" or "b:<browser id>"
    is_operator: bool = False
    is_owner: bool = True

    @property
    def joining_operator(self) -> bool:
        """An admin/advocate in someone else's session: they get operators-only screens."""
        return self.is_operator and not self.is_owner


@dataclass
class FieldView:
    """One input as the page draws it."""

    field: Field
    typed: str | list[str]
    error: str | None = None

    @property
    def input_id(self) -> str:
        return f"field-{self.field.name}"


@dataclass
class ReviewRow:
    label: str
    text: Markup
    screen_id: str | None  # None: no screen asks for it, so no "Change" button


@dataclass
class Page:
    """The current screen, rendered: everything the template needs."""

    screen: Screen
    question: Markup
    subquestion: Markup
    help: Markup
    fields: list[FieldView]
    review: list[ReviewRow]
    buttons: list[tuple[str, str]]  # (action, label); each review row adds a "Change" button

    @property
    def has_errors(self) -> bool:
        return any(f.error for f in self.fields)


@dataclass
class Outcome:
    """What a submission did. `page` is set when it must be shown again with errors."""

    accepted: bool
    stale: bool = False  # the form was for another screen (old tab, another person moved on)
    page: Page | None = None
    errors: dict[str, str] = field(default_factory=dict)


class InterviewRun:
    """One request's view of a session; mutates `record.answers` / `record.progress` only."""

    def __init__(self, interview: Interview, record: SessionRecord, viewer: Viewer,
                 api: Mapping[str, Any]) -> None:
        self.interview = interview
        self.record = record
        self.viewer = viewer
        self.api = api  # the functions interview code and templates may call
        record.progress.setdefault("done", [])
        record.progress.setdefault("revisit", {})

    @property
    def answers(self) -> dict[str, Any]:
        return self.record.answers

    @property
    def done(self) -> list[str]:
        return self.record.progress["done"]

    @property
    def revisits(self) -> dict[str, str]:
        return self.record.progress["revisit"]

    # ------------------------------------------------------------ walking
    def current_screen(self) -> Screen:
        """The screen this viewer is on; runs the code blocks the walk passes."""
        revisit = self.revisits.get(self.viewer.participant)
        if revisit in self.interview.screens:
            return self.interview.screens[revisit]
        for item in self.interview.items:
            if isinstance(item, CodeBlock):
                if self._applies(item.condition, item.label):
                    self._run(item)
                continue
            if not self._applies(item.condition, item.id):
                continue
            if item.operators_only:
                if self.viewer.joining_operator:
                    return item
                continue
            if item.final or item.id not in self.done:
                return item
        return END_SCREEN

    def namespace(self) -> dict[str, Any]:
        """Names visible to conditions, code and templates: the answers and the author API."""
        return {**self.answers, **self.api}

    def _applies(self, condition: str | None, where: str) -> bool:
        if condition is None:
            return True
        try:
            return bool(eval(condition, {"__builtins__": builtins}, self.namespace()))
        except NameError:
            return False  # it depends on a question not answered yet
        except Exception as error:
            raise InterviewRuntimeError(f"{self.interview.name}: condition of {where} "
                                        f"failed: {error!r}") from error

    def _run(self, block: CodeBlock) -> None:
        """Run trusted interview code; JSON-ready names it assigns become answers."""
        scope: dict[str, Any] = {"__builtins__": builtins, **self.namespace()}
        try:
            exec(compile(block.source, block.label, "exec"), scope)  # noqa: S102
        except Exception as error:
            raise InterviewRuntimeError(
                f"{block.label} 'code'{_line_in(error, block.label)} failed: {error!r}") from error
        for name, value in scope.items():
            if name.startswith("_") or name in self.api or self.answers.get(name, object()) == value:
                continue
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                continue  # helpers, modules, objects: scratch values, not answers
            self.answers[name] = value

    # ------------------------------------------------------------ rendering
    def render(self, source: str, paragraphs: bool = False, where: str = "text") -> Markup:
        """Interview text through the sandbox; answers inside it are escaped. `where`
        names the text in an error ("screen 'about' subquestion")."""
        if not source:
            return Markup("")
        try:
            text = _template(source).render(self.namespace())
        except Exception as error:
            raise InterviewRuntimeError(
                f"{self.interview.name}.yaml {where}{_line_in(error, '<template>')} failed: "
                f"{error!r}") from error
        if not paragraphs:
            return Markup(text.strip())
        parts = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
        return Markup("").join(Markup(f"<p>{p}</p>") for p in parts)

    def page(self, screen: Screen | None = None, typed: dict[str, Any] | None = None,
             errors: dict[str, str] | None = None) -> Page:
        """Render `screen` (default: the current one) with saved or just-typed values."""
        screen = screen or self.current_screen()
        typed, errors = typed or {}, errors or {}
        fields = [FieldView(f, typed[f.name] if f.name in typed else
                            as_typed(f, self.answers.get(f.name)), errors.get(f.name))
                  for f in screen.fields]
        rows = [self._review_row(r.label, r.name, r.text, r.screen) for r in screen.review
                if self._asked(r.name, r.screen)]
        return Page(
            screen=screen,
            question=self.render(screen.question, where=f"screen '{screen.id}' question"),
            subquestion=self.render(screen.subquestion, paragraphs=True,
                                    where=f"screen '{screen.id}' subquestion"),
            help=self.render(screen.help, paragraphs=True, where=f"screen '{screen.id}' help"),
            fields=fields, review=rows,
            buttons=[] if screen.final else [("continue", screen.continue_label)],
        )

    def _asked(self, name: str, screen_id: str | None) -> bool:
        """Whether a review row belongs: not when its screen's condition rules it out."""
        screen = self.interview.screens.get(screen_id or "") or self.interview.screen_asking(name)
        return screen is None or self._applies(screen.condition, screen.id)

    def _review_row(self, label: str, name: str, text: str | None,
                    screen_id: str | None) -> ReviewRow:
        if screen_id is None:
            asking = self.interview.screen_asking(name)
            screen_id = asking.id if asking else None
        if self._is_secret(name):
            shown = Markup("Hidden") if name in self.answers else Markup("Not answered yet")
        elif text:
            shown = self.render(text)
        else:
            shown = escape(describe(self.answers.get(name)))
        return ReviewRow(self.render(label) or escape(name), shown, screen_id)

    def _is_secret(self, name: str) -> bool:
        return any(f.secret for s in self.interview.screens.values() for f in s.fields
                   if f.name == name)

    # ------------------------------------------------------------ submitting
    def submit(self, form: dict[str, list[str]]) -> Outcome:
        """Apply one form post: `_screen` (the id it was for), `_action`, one value per field."""
        screen = self.current_screen()
        if (form.get("_screen") or [""])[-1] != screen.id:
            return Outcome(accepted=False, stale=True)
        action = (form.get("_action") or ["continue"])[-1]
        if action.startswith("change:"):
            return self._change(screen, action.removeprefix("change:"))
        if screen.final or screen.operators_only:
            return Outcome(accepted=True)  # nothing to save: "Refresh" just shows it again
        results = {f.name: check(f, form.get(f.name, [])) for f in screen.fields}
        errors = {name: r.error for name, r in results.items() if r.error}
        if errors:
            typed = {name: r.typed for name, r in results.items()}
            return Outcome(accepted=False, errors=errors,
                           page=self.page(screen, typed=typed, errors=errors))
        for name, result in results.items():
            # Optional fields left empty are saved as None so conditions can test them.
            self.answers[name] = result.value if result.answered else None
        if screen.id not in self.done:
            self.done.append(screen.id)
        self.revisits.pop(self.viewer.participant, None)
        return Outcome(accepted=True)

    def step_back(self) -> bool:
        """Undo the last completed screen (the way out of a screen that cannot be shown);
        False when nothing was completed yet."""
        self.revisits.pop(self.viewer.participant, None)
        if not self.done:
            return False
        self.done.pop()
        return True

    def _change(self, screen: Screen, target: str) -> Outcome:
        """A review's "Change" button: go back to that screen, then return to the review."""
        allowed = {row.screen_id for row in self.page(screen).review if row.screen_id}
        if target not in allowed:
            return Outcome(accepted=False, stale=True)
        if not screen.operators_only and screen.id in self.done:
            self.done.remove(screen.id)
        self.revisits[self.viewer.participant] = target
        return Outcome(accepted=True)
