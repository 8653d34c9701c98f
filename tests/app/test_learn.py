"""The Learn page under Streamlit's AppTest: both languages, the live seed example, every exercise link."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from ui.lessons import tr
from ui.lessons.content import EXERCISES, FORMULAS, MISTAKES
from ui.page_state import EXPLORER_KEY

APP = "../../app.py"
PAGE = "pages/learn.py"


def open_learn(**query_params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in query_params.items():
        at.query_params[name] = value
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.fixture
def learn() -> AppTest:
    return open_learn()


def test_formulas_sections_and_mistakes_in_english(learn):
    assert learn.title[0].value == "Learn: masked multi-head attention"
    shown = [latex.value for latex in learn.latex]
    assert len(shown) == sum(len(f) for f in FORMULAS.values())
    assert any(r"+ M\right) V" in latex for latex in shown)
    subheaders = [h.value for h in learn.subheader]
    assert subheaders[0].startswith("1 ·") and subheaders[-1].startswith("8 ·") and len(subheaders) == 8
    text = markdown_text(learn)
    for mistake in MISTAKES:
        assert mistake.where["en"] in text
    assert "a weighted sum of the **value** vectors" in text


@pytest.mark.parametrize("how", ["switch", "url"])
def test_chinese(how):
    at = open_learn(lang="zh") if how == "url" else open_learn()
    if how == "switch":
        at.button_group(key="i18n_lang").set_value("zh").run()
    assert not at.exception and not at.error
    assert at.title[0].value == "学习：带掩码的多头注意力"
    text = markdown_text(at)
    for mistake in MISTAKES:
        assert mistake.correct["zh"].replace("|", "\\|") in text
    assert all(exercise.title["zh"] in text for exercise in EXERCISES)


def test_seed_example_runs_live_with_its_shapes_and_checks(learn):
    text = markdown_text(learn)
    assert "`(10, 20, 512)`" in text and "`(10, 2, 20, 20)`" in text
    assert (
        "the weights sum to **0.0**" in text
        and "bias of W^O: **yes**" in text
        and "NaN anywhere: **no**" in text
    )
    learn.number_input(key="learn_seed").set_value(7).run()
    assert not learn.exception and "bias of W^O: **yes**" in markdown_text(learn)
    learn.toggle(key="learn_training").set_value(True).run()
    assert not learn.exception
    assert tr("learn.example.training_note", "en") in [c.value for c in learn.caption]
    assert "NaN anywhere: **no**" in markdown_text(learn)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.key)
def test_each_exercise_opens_the_explorer_with_its_plan(learn, exercise):
    learn.button(key=f"learn_ex_{exercise.key}").click().run()
    assert not learn.exception, [e.value for e in learn.exception]
    assert learn.title[0].value == "Explorer"
    assert learn.session_state[EXPLORER_KEY].plan == exercise.plan
    assert learn.session_state[EXPLORER_KEY].focus == exercise.focus
    assert learn.session_state["ex_text"] == exercise.text


def test_exercise_share_links_point_at_the_explorer(learn):
    captions = [c.value for c in learn.caption if "Link to share" in c.value]
    assert len(captions) == len(EXERCISES)
    assert all("](./?text=" in c for c in captions)


def test_an_exercise_keeps_the_users_own_plan_one_undo_away():
    # Issue 13, item 7: "Open in the Explorer" threw the user's plan away, and undo could not bring it back.
    from maskattn import MaskPlan, rule

    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_area(key="ex_text").input("The cat sat here.").run()
    mine = MaskPlan((rule([1], [2], block={"keys": [3]}, label="paint"),))  # "sat"
    at.session_state[EXPLORER_KEY] = at.session_state[EXPLORER_KEY].with_plan(mine)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert not {"text", "plan", "focus"} & set(at.query_params)  # the Explorer's link stays behind
    exercise = EXERCISES[0]
    at.button(key=f"learn_ex_{exercise.key}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[EXPLORER_KEY].plan == exercise.plan
    assert not at.button(key="ex_undo").disabled
    at.switch_page("pages/explorer.py")  # AppTest reruns the page it was last sent to, not st.switch_page's
    at.button(key="ex_undo").click().run()
    assert not at.exception
    assert at.session_state[EXPLORER_KEY].plan == mine
    assert [t.value for t in at.title] == ["Explorer"], [e.value for e in at.error]
    assert at.text_area(key="ex_text").value == "The cat sat here."
