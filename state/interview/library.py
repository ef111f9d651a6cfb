"""The interview library: every `interviews/*.yaml` file, loaded once at start.

Interview file format (also described in interviews/README.md)::

    metadata:
      title: Shown in the interview list and on the Monitor
    help: |                 # optional interview help, shown on the Help tab
      Text (Jinja2, like subquestion).
    multi user: true        # optional: a share link lets others join the session
    items:                  # walked in order; the first screen not done is shown
      - id: consent         # screen id (letters, digits, - and _); default screenN
        question: Heading (Jinja2)
        subquestion: |      # Jinja2, sandboxed and autoescaped; blank lines make paragraphs
          Hello {{ first_name }}.
        help: Question-specific help for the Help tab
        if: age >= 18       # optional Python expression over answers; an unanswered
                            # name makes it false
        fields:
          - label: Your name             # every input is labelled
            name: first_name             # a Python name: the answer's variable
            datatype: text               # text, textarea, email, number, date, radio,
                                         # checkboxes, yesno, password
            required: false              # default true
            choices: [A, B]              # radio / checkboxes; or {label:, value:} items
            private: true                # never shown back (passwords are always private)
        continue button label: Next      # default "Continue"
      - code: |             # trusted Python run each time the walk passes it (keep it
          set_live_help_status(availability='available', partner_roles='advocate')
        if: consent         # idempotent); JSON-ready names it assigns become answers
      - id: review
        question: Check your answers
        review:             # one row per answer, each with a "Change" button that goes
          - label: Name     # back to the screen asking `name` (or `screen:`), then returns
            name: first_name
            text: "Your name is {{ first_name }}."   # optional Jinja2 sentence
      - id: back-door
        operators only: true      # shown (first, whatever its position) only to an
        question: Summary         # admin/advocate who joined someone else's session
        review: [...]
        resume button label: Refresh
      - id: end
        question: Thank you
        final: true         # no buttons; the interview stays here

Conditions, code and templates see the answers as names plus the author API the
library is given (the live-help functions: `set_live_help_status`,
`chat_partners_available`, `get_chat_log`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from state.interview.check import Problem, check_file
from state.interview.format import (
    Choice,
    CodeBlock,
    Field,
    Interview,
    InterviewError,
    ReviewItem,
    Screen,
)
from state.interview.runner import (
    InterviewRun,
    InterviewRuntimeError,
    Outcome,
    Page,
    Viewer,
)
from state.store.base import SessionRecord

__all__ = [
    "Choice", "CodeBlock", "Field", "Interview", "InterviewError", "InterviewLibrary",
    "InterviewRun", "InterviewRuntimeError", "Outcome", "Page", "ReviewItem", "Screen", "Viewer",
]

log = logging.getLogger(__name__)


class BrokenInterviews(Exception):
    """Interview files with problems: one `file:line: message` line each."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


class InterviewLibrary:
    """All interviews of one folder, by name (the file name without `.yaml`), each
    checked completely (state/interview/check.py) before it is served."""

    def __init__(self, folder: Path | str, api: Mapping[str, Any]) -> None:
        self.folder = Path(folder)
        self.api = dict(api)
        self._interviews: dict[str, Interview] = {}
        self._mtimes: dict[Path, float] = {}  # of the file each served interview came from
        # A broken file is a deployment mistake: fail at start, naming the file and
        # line, rather than serve a half-working list.
        problems: list[Problem] = []
        for path in sorted(self.folder.glob("*.yaml")):
            problems += self._load(path)
        if problems:
            raise BrokenInterviews(problems)

    def _load(self, path: Path) -> list[Problem]:
        """Check `path` and serve its interview if it has no problems."""
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return []
        interview, problems = check_file(path, self.api)
        if interview is not None and not problems:
            self._interviews[interview.name] = interview
            self._mtimes[path] = mtime
        return problems

    def reload_changed(self) -> None:
        """Periodic job: serve the new version of every interview file that changed, was
        added or removed; a broken edit keeps the last good version serving, and says why."""
        try:
            files = {path: path.stat().st_mtime for path in self.folder.glob("*.yaml")}
        except OSError:  # e.g. no file descriptor left under a flood: look again next time
            return
        for path in set(self._mtimes) - set(files):
            del self._mtimes[path]
            self._interviews.pop(path.stem, None)
            log.info("interview %s removed", path.name)
        for path, mtime in sorted(files.items()):
            if self._mtimes.get(path) == mtime:
                continue
            try:
                problems = self._load(path)
            except OSError:  # unreadable just now: the next period tries again
                continue
            if problems:
                self._mtimes[path] = mtime  # said once per edit, not every period
                log.error("interview %s not reloaded, the last good version stays:\n%s",
                          path.name, "\n".join(map(str, problems)))
            else:
                log.info("interview %s reloaded", path.name)

    def run(self, interview: Interview, record: SessionRecord, viewer: Viewer) -> InterviewRun:
        """One request's walk through `record`, with the author API in its namespace."""
        return InterviewRun(interview, record, viewer, self.api)

    def names(self) -> list[str]:
        """Interview names in alphabetical order."""
        return sorted(self._interviews)

    def get(self, name: str) -> Interview | None:
        return self._interviews.get(name)

    def all(self) -> list[Interview]:
        """Interviews ordered by title, for the list page."""
        return sorted(self._interviews.values(), key=lambda i: i.title.lower())
