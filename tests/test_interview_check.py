"""Interviews checked before anyone sees them (`livehelp check`, start-up, reload on edit),
and a calm page with a way back when a screen fails on a user's answers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from state.interview.check import check_file
from state.interview.library import BrokenInterviews, InterviewLibrary
from state.livehelp.api import interview_namespace
from tests.test_interview_http import Browser

ROOT = Path(__file__).resolve().parent.parent
API = interview_namespace()

GOOD = """\
metadata:
  title: Good interview
items:
  - id: name
    question: Your name
    fields:
      - label: First name
        name: first_name
  - id: hello
    question: Hello {{ first_name }}
    final: true
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    return [str(p).removeprefix(f"{tmp_path}/") for p in
            check_file(write(tmp_path, "broken", text), API)[1]]


def test_a_good_interview_has_no_problems(tmp_path: Path) -> None:
    assert problems_of(tmp_path, GOOD) == []


def test_the_demo_interviews_have_no_problems() -> None:
    for path in sorted((ROOT / "interviews").glob("*.yaml")):
        assert check_file(path, API)[1] == [], path.name


def test_a_jinja_syntax_error_is_reported_on_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("    final: true\n", "    subquestion: |\n      Fine.\n\n"
                        "      Not {{ first_name }.\n    final: true\n")
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("broken.yaml:14: item 2 (hello) 'subquestion': ")


def test_an_unknown_filter_is_reported(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("{{ first_name }}",
                                                     "{{ first_name | shout }}"))
    assert problem == "broken.yaml:10: item 2 (hello) 'question': No filter named 'shout'."


def test_a_name_no_screen_defines_is_reported_in_code_conditions_and_text(
        tmp_path: Path) -> None:
    text = GOOD.replace("  - id: hello\n", "  - code: |\n      greeting = salutation + '!'\n"
                        "    if: consent\n  - id: hello\n").replace("{{ first_name }}",
                                                                   "{{ frist_name }}")
    undefined = "is not defined by any field or code block"
    assert problems_of(tmp_path, text) == [
        f"broken.yaml:10: item 2 'code': name 'salutation' {undefined}",
        f"broken.yaml:11: item 2 'if': name 'consent' {undefined}",
        f"broken.yaml:13: item 3 (hello) 'question': name 'frist_name' {undefined}",
    ]


def test_names_from_fields_code_and_the_author_api_are_known(tmp_path: Path) -> None:
    text = GOOD.replace("  - id: hello\n", "  - code: |\n      shout = first_name.upper()\n"
                        "      set_live_help_status(availability='available', "
                        "partner_roles='advocate')\n  - id: hello\n").replace(
        "{{ first_name }}", "{{ shout }} {{ chat_partners_available('advocate').help }}")
    assert problems_of(tmp_path, text) == []


def test_a_loading_error_points_at_its_item(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("        name: first_name",
                                                     "        name: first_name\n"
                                                     "        lable: x"))
    assert problem.startswith("broken.yaml:4: ") and "'lable'" in problem


def test_livehelp_check_prints_one_line_per_problem_and_fails(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken", GOOD.replace("{{ first_name }}", "{{ first_name | shout }}"))
    good = write(tmp_path / "ok", "good", GOOD)
    run = subprocess.run([sys.executable, "server.py", "check", str(broken), str(good)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 1
    assert run.stdout == f"{broken}:10: item 2 (hello) 'question': No filter named 'shout'.\n"
    clean = subprocess.run([sys.executable, "server.py", "check", str(good)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert clean.returncode == 0 and "No problems" in clean.stdout


def test_the_server_refuses_to_start_with_a_broken_interview(tmp_path: Path) -> None:
    folder = tmp_path / "interviews"
    write(folder, "broken", GOOD.replace("{{ first_name }}", "{{ first_name | shout }}"))
    config = tmp_path / "livehelp.yaml"
    config.write_text(f"interviews dir: {folder}\ndata dir: {tmp_path / 'data'}\nport: 0\n")
    run = subprocess.run([sys.executable, "server.py", "--config", str(config)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1] == (
        f"{folder / 'broken.yaml'}:10: item 2 (hello) 'question': No filter named 'shout'.")
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "data").exists()  # nothing written, no first admin made


def test_a_broken_folder_is_refused_with_every_problem(tmp_path: Path) -> None:
    write(tmp_path, "one", GOOD.replace("{{ first_name }}", "{{ x }}"))
    write(tmp_path, "two", "items: [")
    with pytest.raises(BrokenInterviews) as refused:
        InterviewLibrary(tmp_path, api=API)
    assert [p.path.name for p in refused.value.problems] == ["one.yaml", "two.yaml"]


def touch_later(path: Path, text: str) -> None:
    """Write `text` with a modification time surely different from the last one."""
    before = path.stat().st_mtime
    path.write_text(text, encoding="utf-8")
    os.utime(path, (before + 10, before + 10))


def test_a_good_edit_is_served_without_a_restart(tmp_path: Path) -> None:
    path = write(tmp_path, "good", GOOD)
    library = InterviewLibrary(tmp_path, api=API)
    touch_later(path, GOOD.replace("Good interview", "Better interview"))
    library.reload_changed()
    assert library.get("good").title == "Better interview"
    write(tmp_path, "second", GOOD)
    library.reload_changed()
    assert library.names() == ["good", "second"]
    (tmp_path / "second.yaml").unlink()
    library.reload_changed()
    assert library.names() == ["good"]


def test_a_broken_edit_keeps_the_last_good_version_and_says_why(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "good", GOOD)
    library = InterviewLibrary(tmp_path, api=API)
    touch_later(path, GOOD.replace("{{ first_name }}", "{{ first_name | shout }}"))
    with caplog.at_level(logging.ERROR):
        library.reload_changed()
        library.reload_changed()  # said once per edit, not every period
    assert library.get("good").title == "Good interview"
    (record,) = caplog.records
    assert "good.yaml:10: item 2 (hello) 'question': No filter named 'shout'." in record.message


FAILING = GOOD.replace("    question: Hello {{ first_name }}\n",
                       "    question: Hello {{ first_name }}\n    subquestion: |\n"
                       "      You are {{ 1 / (first_name | length - 3) }} times welcome.\n")


@pytest.fixture
def failing_config(config, tmp_path: Path):
    """The app serving one interview whose second screen fails for three-letter names."""
    write(tmp_path / "interviews", "failing", FAILING)
    config.interviews_dir = tmp_path / "interviews"
    return config


async def test_a_failing_screen_gets_a_calm_page_and_a_way_back(
        failing_config, live_server, caplog: pytest.LogCaptureFixture) -> None:
    browser = Browser(live_server)
    await browser.get("interview/failing")
    with caplog.at_level(logging.ERROR):
        shown = await browser.follow(await browser.post(
            "interview/failing", {"_screen": "name", "first_name": "Ann"}))
    assert shown.code == 500
    page = shown.body.decode()
    assert "This question could not be shown" in page and "Traceback" not in page
    assert "Back to the previous question" in page
    logged = [r.message for r in caplog.records if "could not be shown" in r.message]
    assert logged and "failing.yaml screen 'hello' subquestion, line 1 failed" in logged[0]
    assert "ZeroDivisionError" in logged[0]

    back = await browser.follow(await browser.post("interview/failing/back", {}))
    assert back.code == 200 and "Your name" in back.body.decode()
    fixed = await browser.follow(await browser.post(
        "interview/failing", {"_screen": "name", "first_name": "Annabel"}))
    assert fixed.code == 200 and "Hello Annabel" in fixed.body.decode()
