"""Checking interview files completely before anyone sees them: `livehelp check` and start-up.

Beyond what loading checks (the declared shape, names, code that compiles), every
Jinja2 text is compiled in the runner's sandbox (syntax, unknown filters and
tests) and every name a condition, code block or text reads must be defined
somewhere: by a field, by a code block, by the author API or by Python. Each
problem is one line `file:line: message`, the form editors and CI read.
"""

from __future__ import annotations

import ast
import builtins
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml
from jinja2 import meta

from state.interview.format import CodeBlock, Interview, InterviewError, Screen, load_interview
from state.interview.runner import template_environment

# Names every condition, code block and text may use without defining them.
ALWAYS_DEFINED = frozenset(dir(builtins)) | {"loop", "range", "lipsum", "dict", "cycler",
                                              "joiner", "namespace"}


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class Lines:
    """Where things stand in one YAML file: the line of each item and of its keys."""

    def __init__(self, text: str) -> None:
        self._items: list[yaml.MappingNode | None] = []
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            return
        if isinstance(root, yaml.MappingNode):
            for key, value in root.value:
                if key.value == "items" and isinstance(value, yaml.SequenceNode):
                    self._items = [n if isinstance(n, yaml.MappingNode) else None
                                   for n in value.value]

    def of(self, item: int, key: str | None = None) -> int:
        """1-based line of item number `item` (1-based), or of its `key`; 1 if unknown."""
        node = self._items[item - 1] if 0 < item <= len(self._items) else None
        if node is None:
            return 1
        for name, value in node.value:
            if key is not None and name.value == key:
                # A block scalar (`key: |`) starts on the line after the key.
                block = getattr(value, "style", None) in ("|", ">")
                return value.start_mark.line + 1 + block
        return node.start_mark.line + 1


def check_file(path: Path, api_names: Iterable[str]) -> tuple[Interview | None, list[Problem]]:
    """The interview in `path` and its problems (none: it may be served)."""
    text = path.read_text(encoding="utf-8")
    lines = Lines(text)
    try:
        interview = load_interview(path)
    except InterviewError as error:
        return None, [Problem(path, _line_of_error(str(error), lines), str(error))]
    problems = [Problem(path, line, message)
                for line, message in _problems(interview, lines, set(api_names))]
    return interview, problems


def _line_of_error(message: str, lines: Lines) -> int:
    """Loading errors say "item N" (or "line N" for YAML syntax): the line to point at."""
    words = message.split()
    for word, number in itertools.pairwise(words):
        digits = number.strip("():,")
        if digits.isdigit() and word in ("item", "line"):
            return lines.of(int(digits)) if word == "item" else int(digits)
    return 1


def _problems(interview: Interview, lines: Lines, api: set[str]) -> Iterator[tuple[int, str]]:
    defined = ALWAYS_DEFINED | api | _defined_names(interview)
    environment = template_environment()

    def undefined(names: set[str], line: int, where: str) -> Iterator[tuple[int, str]]:
        for name in sorted(names - defined):
            yield line, f"{where}: name '{name}' is not defined by any field or code block"

    for index, item in enumerate(interview.items, 1):
        place = f"item {index}" if isinstance(item, CodeBlock) else f"item {index} ({item.id})"
        if isinstance(item, CodeBlock):
            yield from undefined(_read_names(item.source), lines.of(index, "code"),
                                 f"{place} 'code'")
        else:
            for key, source in _texts(item):
                try:
                    parsed = environment.parse(source)
                    environment.compile(parsed)
                except jinja2.TemplateSyntaxError as error:  # also unknown filters and tests
                    yield (lines.of(index, key) + (error.lineno or 1) - 1,
                           f"{place} '{key}': {error.message}")
                    continue
                yield from undefined(meta.find_undeclared_variables(parsed),
                                     lines.of(index, key), f"{place} '{key}'")
        if item.condition is not None:
            yield from undefined(_read_names(item.condition), lines.of(index, "if"),
                                 f"{place} 'if'")


def _texts(screen: Screen) -> Iterator[tuple[str, str]]:
    """(YAML key, Jinja2 text) of every text of a screen that is rendered."""
    for key in ("question", "subquestion", "help"):
        if getattr(screen, key):
            yield key, getattr(screen, key)
    for row in screen.review:
        yield "review", row.label
        if row.text:
            yield "review", row.text


def _defined_names(interview: Interview) -> set[str]:
    """Names some field asks for or some code block assigns."""
    names = {f.name for screen in interview.screens.values() for f in screen.fields}
    for item in interview.items:
        if isinstance(item, CodeBlock):
            names |= {node.id for node in ast.walk(ast.parse(item.source))
                      if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
            names |= {node.name for node in ast.walk(ast.parse(item.source))
                      if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
            names |= {(alias.asname or alias.name).split(".")[0]
                      for node in ast.walk(ast.parse(item.source))
                      if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    return names


def _read_names(source: str) -> set[str]:
    """Names a condition or code block reads, less those it binds itself (arguments,
    comprehension variables)."""
    tree = ast.parse(source)
    bound = {arg.arg for node in ast.walk(tree) if isinstance(node, ast.arguments)
             for arg in [*node.posonlyargs, *node.args, *node.kwonlyargs,
                         *filter(None, [node.vararg, node.kwarg])]}
    bound |= {node.id for node in ast.walk(tree)
              if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)} - bound


def check_paths(paths: Iterable[Path], api_names: Iterable[str]) -> list[Problem]:
    """Problems of every interview file in `paths` (folders: their *.yaml files)."""
    api = list(api_names)
    problems: list[Problem] = []
    for path in paths:
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            problems += check_file(file, api)[1]
    return problems
