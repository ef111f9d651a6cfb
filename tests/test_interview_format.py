"""The interview file format: its declared shape, the messages for mistakes, the demos."""

from __future__ import annotations

import textwrap
from pathlib import Path

import msgspec
import pytest
import yaml

import state.interview.library as library_module
from state.interview.format import (
    DATATYPES,
    CodeBlock,
    InterviewError,
    InterviewSpec,
    Screen,
    load_interview,
    parse_interview,
)

INTERVIEWS = Path(__file__).resolve().parent.parent / "interviews"

# A small valid interview; each case below changes one part of it.
BASE = """\
metadata:
  title: Fruit
items:
  - id: intro
    question: Welcome
  - id: favourite
    question: Your favourite
    fields:
      - label: Fruit
        name: fruit
        datatype: radio
        required: false
        choices:
          - Apple
          - {label: Pear, value: pear}
  - id: review
    question: Check
    review:
      - label: Your fruit
        name: fruit
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "fruit.yaml"
    path.write_text(text, encoding="utf-8")
    return load_interview(path)


def refusal(tmp_path: Path, text: str) -> str:
    """The message load_interview gives for `text` saved as fruit.yaml."""
    with pytest.raises(InterviewError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def changed(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def test_the_base_interview_loads(tmp_path: Path) -> None:
    interview = load(tmp_path, BASE)
    assert list(interview.screens) == ["intro", "favourite", "review"]


# unknown keys ----------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "message"), [
    ("metadata:\n", "colour: red\nmetadata:\n", "fruit.yaml: unknown key 'colour'"),
    ("  title: Fruit\n", "  title: Fruit\n  autor: Ann\n",
     "fruit.yaml metadata: unknown key 'autor'"),
    ("    question: Your favourite\n", "    questoin: Your favourite\n",
     "fruit.yaml item 2 (favourite): unknown key 'questoin' (did you mean 'question'?)"),
    ("      - label: Fruit\n", "      - lable: Fruit\n",
     "fruit.yaml item 2 (favourite) field 1: unknown key 'lable' (did you mean 'label'?)"),
    ("{label: Pear, value: pear}", "{label: Pear, valeu: pear}",
     ("fruit.yaml item 2 (favourite) field 1 choice 2: unknown key 'valeu' "
      "(did you mean 'value'?)")),
    ("      - label: Your fruit\n", "      - label: Your fruit\n        screnn: favourite\n",
     "fruit.yaml item 3 (review) review row 1: unknown key 'screnn' (did you mean 'screen'?)"),
], ids=["top level", "metadata", "item", "field", "choice", "review row"])
def test_unknown_keys_are_refused_naming_their_place(tmp_path, old, new, message) -> None:
    assert refusal(tmp_path, changed(old, new)) == message


def test_a_key_of_a_screen_is_refused_on_a_code_item(tmp_path: Path) -> None:
    text = changed("  - id: intro\n", "  - code: x = 1\n    final: true\n  - id: intro\n")
    assert refusal(tmp_path, text) == ("fruit.yaml item 1: a code item has only 'code', 'if' "
                                       "and 'id', not 'final'")


# wrong types -----------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "message"), [
    ("        required: false\n", '        required: "yes"\n',
     "fruit.yaml item 2 (favourite) field 1: 'required' must be true or false, not 'yes'"),
    ("    question: Welcome\n", "    question: Welcome\n    operators only: 1\n",
     "fruit.yaml item 1 (intro): 'operators only' must be true or false, not 1"),
    ("    question: Welcome\n", "    question: yes\n",  # YAML reads an unquoted yes as true
     "fruit.yaml item 1 (intro): 'question' must be text, not true"),
    ("          - Apple\n", "          - yes\n",
     ("fruit.yaml item 2 (favourite) field 1 choice 1: this choice must be text or a mapping, "
      "not true")),
    ("      - label: Fruit\n", "      - label: 2024-05-01\n",
     ("fruit.yaml item 2 (favourite) field 1: 'label' must be text, not the date 2024-05-01 "
      "(quote it to make it text)")),
    ("        datatype: radio\n", "        datatype: colour\n",
     (f"fruit.yaml item 2 (favourite) field 1: 'datatype' must be one of {', '.join(DATATYPES)}"
      ", not 'colour'")),
    ("  title: Fruit\n", "  title: [Fruit]\n",
     "fruit.yaml metadata: 'title' must be text, not a list"),
    ("      - label: Your fruit\n", "      - label: Your fruit\n        text: {a: 1}\n",
     "fruit.yaml item 3 (review) review row 1: 'text' must be text, not a mapping"),
    ("      - label: Your fruit\n        name: fruit\n", "      - label: Your fruit\n",
     "fruit.yaml item 3 (review) review row 1: missing key 'name'"),
], ids=["required", "operators only", "bool question", "bool choice", "date label", "datatype",
        "metadata title", "review text", "review name missing"])
def test_wrong_types_deep_inside_are_refused_naming_their_place(tmp_path, old, new,
                                                                message) -> None:
    assert refusal(tmp_path, changed(old, new)) == message


def test_numbers_are_accepted_as_text(tmp_path: Path) -> None:
    text = changed("          - Apple\n", "          - 1\n          - 2.5\n").replace(
        "title: Fruit", "title: 2024")
    interview = load(tmp_path, text)
    assert interview.title == "2024"
    field = interview.screens["favourite"].fields[0]
    assert [(c.value, c.label) for c in field.choices] == [("1", "1"), ("2.5", "2.5"),
                                                           ("pear", "Pear")]


def test_syntax_errors_are_one_line_naming_file_and_item(tmp_path: Path) -> None:
    messages = [refusal(tmp_path, text) for text in (
        BASE + "  - [unclosed\n",
        changed("    question: Welcome\n", "    question: Welcome\n    if: (a ==\n"),
        changed("  - id: intro\n    question: Welcome\n", "  - code: |\n      def f(:\n"))]
    assert messages == [
        ("fruit.yaml: not valid YAML: expected ',' or ']', but got '<stream end>' "
         "(line 22, column 1)"),
        "fruit.yaml item 1 (intro): 'if' is not a Python expression: '(' was never closed (line 1)",
        "fruit.yaml item 1: code does not compile: invalid syntax (line 1)"]


# what is accepted ------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(INTERVIEWS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_demo_interview_loads(path: Path) -> None:
    interview = load_interview(path)
    assert interview.name == path.stem and interview.title and interview.screens


EVERY_KEY = """\
metadata:
  title: Every key
help: Interview help {{ first_name }}
multi user: true
items:
  - id: consent
    question: Heading
    subquestion: Hello {{ first_name }}.
    help: Question help
    if: age >= 18
    fields:
      - label: Your name
        name: first_name
        datatype: text
        required: false
        private: true
      - label: Colour
        name: colour
        datatype: radio
        choices: [Red, {label: Sky blue, value: blue}]
    continue button label: Next
  - code: |
      set_live_help_status(availability='available', partner_roles='advocate')
    if: consent
    id: helper
  - id: review
    question: Check your answers
    review:
      - label: Name
        name: first_name
        text: "Your name is {{ first_name }}."
        screen: consent
  - id: back-door
    operators only: true
    question: Summary
    review:
      - name: colour
    resume button label: Refresh now
  - id: end
    question: Thank you
    final: true
"""


def test_every_documented_key_is_accepted(tmp_path: Path) -> None:
    interview = load(tmp_path, EVERY_KEY)
    assert (interview.title, interview.help, interview.multi_user) == (
        "Every key", "Interview help {{ first_name }}", True)
    consent, code, review, back_door, end = interview.items
    assert isinstance(consent, Screen) and isinstance(code, CodeBlock)
    assert (consent.subquestion, consent.help, consent.condition, consent.continue_label) == (
        "Hello {{ first_name }}.", "Question help", "age >= 18", "Next")
    name, colour = consent.fields
    assert (name.datatype, name.required, name.private, name.secret) == ("text", False, True,
                                                                         True)
    assert [(c.value, c.label) for c in colour.choices] == [("Red", "Red"), ("blue", "Sky blue")]
    assert code.condition == "consent" and "set_live_help_status" in code.source
    row = review.review[0]
    assert (row.label, row.name, row.text, row.screen) == (
        "Name", "first_name", "Your name is {{ first_name }}.", "consent")
    assert back_door.operators_only and back_door.continue_label == "Refresh now"
    assert back_door.review[0].label == "colour"  # the label defaults to the name
    assert end.final and end.continue_label == "Continue"


def test_the_documented_example_has_only_declared_keys() -> None:
    """The docstring of library.py documents the format: every key in it is declared."""
    doc = library_module.__doc__
    example = textwrap.dedent(doc[doc.index("::\n") + 3:doc.index("\nConditions, code")])
    # `[...]` stands for rows shown above it, and is no row itself.
    document = yaml.safe_load(example.replace("review: [...]", "review: []"))
    msgspec.convert(document, InterviewSpec)  # raises naming any undeclared key


def test_defaults_ids_and_button_labels() -> None:
    interview = parse_interview("demo", {"items": [
        {"question": "First"}, {"code": "x = 1"}, {"question": "Back", "operators only": True}]})
    assert list(interview.screens) == ["screen1", "screen3"]
    assert [s.continue_label for s in interview.screens.values()] == ["Continue", "Refresh"]
    assert interview.title == "demo"


# mentions --------------------------------------------------------------------

def test_mentions_finds_a_name_in_code_conditions_and_text() -> None:
    interview = parse_interview("demo", {"help": "{{ get_chat_log() }}", "items": [
        {"code": "set_live_help_status(mode='help')"},
        {"question": "Q", "if": "chat_partners_available('a').help"}]})
    assert interview.mentions("set_live_help_status")
    assert interview.mentions("chat_partners_available")
    assert interview.mentions("get_chat_log")
    assert not interview.mentions("chat_log")  # a whole name, not a part of one
    assert not interview.mentions("first_name")


def test_only_the_demo_calling_get_chat_log_reads_it() -> None:
    reading = [p.stem for p in sorted(INTERVIEWS.glob("*.yaml"))
               if load_interview(p).mentions("get_chat_log")]
    assert reading == ["chat_example"]
