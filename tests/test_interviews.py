"""The interview engine without a server: loading, walking, validating, code and the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from state.config import Config
from state.interview.format import InterviewError, parse_interview
from state.interview.library import InterviewLibrary, InterviewRun, Viewer
from state.livehelp.api import InterviewContext, current_context, interview_namespace
from state.livehelp.hub import Hub
from state.livehelp.model import LiveHelp
from state.store.base import OperatorSettings, SessionRecord, User, new_id

INTERVIEWS = Path(__file__).resolve().parent.parent / "interviews"
USER = Viewer("b:browser-1")

API = interview_namespace()

@pytest.fixture(scope="module")
def library() -> InterviewLibrary:
    return InterviewLibrary(INTERVIEWS, api=interview_namespace())


@pytest.fixture
def livehelp() -> LiveHelp:
    """A live-help model with no store: enough for the API's in-memory queries."""
    return LiveHelp(store=None, hub=Hub(), config=Config())  # type: ignore[arg-type]


def add_operator(livehelp: LiveHelp, roles: list[str]) -> None:
    user = User(id=new_id(), email="op@example.com", password_hash="", privileges=["advocate"])
    livehelp.add_operator(user, OperatorSettings(user.id, available=True, roles=roles)).sockets = 1


class Session:
    """One session of an interview driven as the runner's callers do (context set around it)."""

    def __init__(self, library: InterviewLibrary, livehelp: LiveHelp, name: str,
                 viewer: Viewer = USER, record: SessionRecord | None = None) -> None:
        self.interview = library.get(name)
        assert self.interview is not None
        self.record = record or SessionRecord(id="s1", interview=name)
        self.livehelp = livehelp
        self.viewer = viewer

    def _with_context(self, action):
        token = current_context.set(
            InterviewContext(self.record, self.livehelp, self.viewer.participant))
        try:
            return action(InterviewRun(self.interview, self.record, self.viewer, API))
        finally:
            current_context.reset(token)

    def page(self):
        return self._with_context(lambda run: run.page())

    def screen_id(self) -> str:
        return self.page().screen.id

    def submit(self, action: str = "continue", **values: str | list[str]):
        form = {"_screen": [self.screen_id()], "_action": [action]}
        for name, value in values.items():
            form[name] = value if isinstance(value, list) else [value]
        return self._with_context(lambda run: run.submit(form))


def test_every_demo_loads_with_a_title(library: InterviewLibrary) -> None:
    assert library.names() == ["chat_example", "chat_partners", "cobrowse_demo", "fruit", "peer",
                               "peerhelp"]
    for name in library.names():
        interview = library.get(name)
        assert interview.title and interview.screens


def test_only_peer_demos_are_multi_user(library: InterviewLibrary) -> None:
    assert sorted(i.name for i in library.all() if i.multi_user) == ["peer", "peerhelp"]


def test_unknown_interview_is_none(library: InterviewLibrary) -> None:
    assert library.get("nope") is None


def test_bad_datatype_is_refused_naming_the_item() -> None:
    document = {"items": [{"question": "Q", "fields": [
        {"label": "L", "name": "x", "datatype": "colour"}]}]}
    with pytest.raises(InterviewError, match=r"demo.yaml item 1.*colour"):
        parse_interview("demo", document)


def test_duplicate_screen_ids_are_refused() -> None:
    document = {"items": [{"id": "a", "question": "Q"}, {"id": "a", "question": "R"}]}
    with pytest.raises(InterviewError, match="used twice"):
        parse_interview("demo", document)


def test_field_names_may_not_shadow_form_inputs() -> None:
    document = {"items": [{"question": "Q", "fields": [{"label": "L", "name": "_action"}]}]}
    with pytest.raises(InterviewError, match="Python name"):
        parse_interview("demo", document)


def test_submitting_moves_to_the_next_screen_and_reload_shows_it_again(library, livehelp) -> None:
    session = Session(library, livehelp, "fruit")
    assert session.screen_id() == "welcome"
    assert session.submit().accepted
    assert session.screen_id() == "fruit"
    assert session.submit(fruit="Apple").accepted
    assert session.screen_id() == "vegetable"
    assert session.screen_id() == "vegetable"  # a reload: same screen
    assert session.record.answers["fruit"] == "Apple"


def test_missing_required_field_keeps_other_typed_values(library, livehelp) -> None:
    session = Session(library, livehelp, "chat_example")
    session.submit(consent="no")
    session.submit(support_types=["Spousal Support"])
    outcome = session.submit(first_name="  Ann ", birth_date="", email="ann@example.com")
    assert not outcome.accepted
    assert outcome.errors == {"birth_date": "Please fill this in."}
    typed = {f.field.name: f.typed for f in outcome.page.fields}
    assert typed == {"first_name": "Ann", "email": "ann@example.com", "birth_date": ""}
    assert "first_name" not in session.record.answers


@pytest.mark.parametrize(("field", "value", "message"), [
    ("email", "not-an-address", "email address"),
    ("birth_date", "31/12/1990", "YYYY-MM-DD"),
])
def test_invalid_values_are_refused_and_kept(library, livehelp, field, value, message) -> None:
    session = Session(library, livehelp, "chat_example")
    session.submit(consent="no")
    session.submit(support_types=["Child Support"])
    values = {"first_name": "Ann", "email": "", "birth_date": "1990-12-31", field: value}
    outcome = session.submit(**values)
    assert message in outcome.errors[field]
    assert {f.field.name: f.typed for f in outcome.page.fields}[field] == value


def test_number_and_choice_validation(library, livehelp) -> None:
    session = Session(library, livehelp, "chat_example")
    session.submit(consent="no")
    assert session.submit(support_types=["Alimony"]).errors
    assert session.submit(support_types=["Child Support"]).accepted
    session.submit(first_name="Ann", birth_date="1990-01-02")
    assert session.screen_id() == "children"  # its condition holds: child support chosen
    assert "number" in session.submit(children="a few").errors["children"]
    assert session.submit(children="2").accepted
    assert session.record.answers["children"] == 2


def test_condition_skips_a_screen_when_false(library, livehelp) -> None:
    session = Session(library, livehelp, "chat_example")
    session.submit(consent="no")
    session.submit(support_types=["Spousal Support"])
    session.submit(first_name="Ann", birth_date="1990-01-02")
    assert session.screen_id() == "situation"


def test_password_is_saved_but_never_shown_back(library, livehelp) -> None:
    session = Session(library, livehelp, "chat_example")
    session.submit(consent="no")
    session.submit(support_types=["Spousal Support"])
    session.submit(first_name="Ann", birth_date="1990-01-02")
    session.submit(situation="")
    outcome = session.submit(password="")
    assert outcome.errors and outcome.page.fields[0].typed == ""
    assert session.submit(password=" s3cret ").accepted
    assert session.record.answers["password"] == " s3cret "
    review = {row.label: str(row.text) for row in session.page().review}
    assert session.screen_id() == "review"
    assert "s3cret" not in "".join(review.values())


def test_code_block_enables_live_help_only_after_consent(library, livehelp) -> None:
    session = Session(library, livehelp, "chat_example")
    session.page()
    assert session.record.live_help == {}
    session.submit(consent="yes")
    session.page()
    assert session.record.live_help == {
        "availability": "available", "mode": "help", "partner_roles": ["advocate", "family law"]}


def test_code_block_without_consent_leaves_live_help_off(library, livehelp) -> None:
    session = Session(library, livehelp, "chat_example")
    session.submit(consent="no")
    assert session.screen_id() == "support"
    assert session.record.live_help == {}


def test_code_block_assignments_become_answers(livehelp) -> None:
    interview = parse_interview("demo", {"items": [
        {"code": "total = price * 2\nhelper = len\n_scratch = 1"},
        {"id": "end", "question": "Total {{ total }}", "final": True},
    ]})
    record = SessionRecord(id="s", interview="demo", answers={"price": 4})
    token = current_context.set(InterviewContext(record, livehelp, "b:x"))
    try:
        page = InterviewRun(interview, record, USER, API).page()
    finally:
        current_context.reset(token)
    assert record.answers == {"price": 4, "total": 8}
    assert str(page.question) == "Total 8"


def test_answers_are_escaped_in_templates(library, livehelp) -> None:
    session = Session(library, livehelp, "chat_example")
    session.submit(consent="no")
    session.submit(support_types=["Spousal Support"])
    session.submit(first_name="<b>Ann</b>", birth_date="1990-01-02")
    subquestion = str(session.page().subquestion)
    assert "&lt;b&gt;Ann&lt;/b&gt;" in subquestion and "<b>" not in subquestion


def test_templates_cannot_reach_python_internals(livehelp) -> None:
    interview = parse_interview("demo", {"items": [
        {"question": "{{ ''.__class__.__mro__ }}", "final": True}]})
    record = SessionRecord(id="s", interview="demo")
    token = current_context.set(InterviewContext(record, livehelp, "b:x"))
    try:
        question = str(InterviewRun(interview, record, USER, API).page().question)
    finally:
        current_context.reset(token)
    assert "class" not in question and "object" not in question


def test_chat_partners_available_in_a_subquestion(library, livehelp) -> None:
    session = Session(library, livehelp, "chat_partners")
    assert "No advocates are available" in str(session.page().subquestion)
    add_operator(livehelp, ["family law"])
    assert "No advocates are available" in str(session.page().subquestion)
    add_operator(livehelp, ["advocate"])
    assert "An advocate is available to assist you." in str(session.page().subquestion)


def walk_fruit(session: Session) -> None:
    session.submit()
    session.submit(fruit="Apple")
    session.submit(vegetable="Leek")
    session.submit(fungi="Chanterelle")


def test_review_change_goes_back_then_returns_to_the_review(library, livehelp) -> None:
    session = Session(library, livehelp, "fruit")
    walk_fruit(session)
    assert session.screen_id() == "review"
    rows = session.page().review
    assert [(r.label, str(r.text)) for r in rows] == [
        ("Fruit", "Apple"), ("Vegetable", "Leek"), ("Fungus", "Chanterelle")]
    assert session.submit("change:vegetable").accepted
    page = session.page()
    assert page.screen.id == "vegetable" and page.fields[0].typed == "Leek"
    session.submit(vegetable="Kale")
    assert session.screen_id() == "review"
    assert session.record.answers["vegetable"] == "Kale"
    session.submit()
    assert session.page().screen.final


def test_change_to_a_screen_not_on_the_review_is_ignored(library, livehelp) -> None:
    session = Session(library, livehelp, "fruit")
    walk_fruit(session)
    outcome = session.submit("change:advocate-screen")
    assert outcome.stale and session.screen_id() == "review"


def test_a_form_for_another_screen_is_stale(library, livehelp) -> None:
    session = Session(library, livehelp, "fruit")
    session.submit()
    form = {"_screen": ["welcome"], "_action": ["continue"]}
    token = current_context.set(InterviewContext(session.record, livehelp, USER.participant))
    try:
        outcome = InterviewRun(session.interview, session.record, USER, API).submit(form)
    finally:
        current_context.reset(token)
    assert outcome.stale and not outcome.accepted


def test_operator_screen_is_shown_only_to_a_joining_operator(library, livehelp) -> None:
    record = SessionRecord(id="s1", interview="fruit")
    user = Session(library, livehelp, "fruit", record=record)
    walk_fruit(user)
    operator = Session(library, livehelp, "fruit", record=record,
                       viewer=Viewer("u:op", is_operator=True, is_owner=False))
    page = operator.page()
    assert page.screen.id == "advocate-screen"
    assert str(page.review[0].text) == "The favorite fruit was Apple."
    assert page.buttons == [("continue", "Refresh")]
    assert user.screen_id() == "review"
    own = Session(library, livehelp, "fruit", viewer=Viewer("u:op", is_operator=True))
    assert own.screen_id() == "welcome"


def test_operator_changes_an_answer_from_the_back_door(library, livehelp) -> None:
    record = SessionRecord(id="s1", interview="fruit")
    user = Session(library, livehelp, "fruit", record=record)
    walk_fruit(user)
    operator = Session(library, livehelp, "fruit", record=record,
                       viewer=Viewer("u:op", is_operator=True, is_owner=False))
    operator.submit("change:fruit")
    assert operator.screen_id() == "fruit"
    assert user.screen_id() == "review"  # the user is not moved by the operator's detour
    operator.submit(fruit="Pear")
    assert operator.screen_id() == "advocate-screen"
    assert operator.submit().accepted  # "Refresh"
    assert user.record.answers["fruit"] == "Pear"
    assert user.screen_id() == "review"


def test_multi_user_session_moves_everyone_together(library, livehelp) -> None:
    record = SessionRecord(id="s1", interview="peer")
    first = Session(library, livehelp, "peer", record=record)
    second = Session(library, livehelp, "peer", record=record, viewer=Viewer("b:other"))
    first.submit()
    assert second.screen_id() == "meeting"
    assert record.live_help["mode"] == "peer"


def test_optional_empty_field_is_saved_as_none(library, livehelp) -> None:
    session = Session(library, livehelp, "peerhelp")
    session.submit()
    assert session.submit(weekdays="Alternating weeks", notes="").accepted
    assert session.record.answers["notes"] is None
    assert session.record.live_help["mode"] == "peerhelp"


def test_api_outside_an_interview_raises() -> None:
    from state.livehelp.api import set_live_help_status
    from state.livehelp.errors import InterviewContextError

    with pytest.raises(InterviewContextError):
        set_live_help_status(availability="available", partner_roles="advocate")


def test_review_leaves_out_screens_whose_condition_is_false(library, livehelp) -> None:
    session = Session(library, livehelp, "chat_example")
    session.submit(consent="no")
    session.submit(support_types=["Spousal Support"])
    session.submit(first_name="Ann", birth_date="1990-01-02")
    session.submit(situation="")
    session.submit(password="pass phrase")
    labels = [row.label for row in session.page().review]
    assert "Number of children" not in labels and "First name" in labels
