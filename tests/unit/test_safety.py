"""What the app trusts: no pickle, no remote code, no user text as HTML, limits read from one place.

The source checks read the code itself (with ``ast``, not grep, so comments and strings do not count), so a
future change that loads a pickle or renders HTML fails here before it ships.
"""

from __future__ import annotations

import ast
import html
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from markdown_it import MarkdownIt

from maskattn import MaskPlan, RunResult, rule
from ui.exports import attentions_npz
from ui.limits import Limits, read_limits
from ui.markdown import code, escape

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [REPO / "app.py", *sorted((REPO / "maskattn").rglob("*.py"))]
SHIPPED += [*sorted((REPO / "ui").rglob("*.py")), *sorted((REPO / "pages").rglob("*.py"))]

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` ~~gone~~",
    "[click](javascript:alert(1))",
    "# heading",
    "$\\frac{1}{0}$",
    ":red[colour] :material/warning:",
    "a | b | c",
    "&lt;escaped&gt; &amp;",
    "1. not a list",
    "\\ backslash \\",
    "مرحبا بالعالم",  # right to left
    "注意力 😀👩‍👩‍👧",
]


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def call_name(node: ast.Call) -> str:
    return ast.unparse(node.func)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_no_pickle_no_remote_code_no_raw_html(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
            assert not {"pickle", "cPickle", "dill", "joblib", "shelve", "marshal"} & set(names), (
                f"{path}:{node.lineno} imports a pickle-like module"
            )
    for node in calls(tree):
        name = call_name(node)
        where = f"{path.relative_to(REPO)}:{node.lineno}"
        assert name not in {"torch.load", "eval", "exec", "pickle.load", "pickle.loads"}, f"{where}: {name}"
        for keyword in node.keywords:
            if keyword.arg in {"trust_remote_code", "allow_pickle"}:
                assert isinstance(keyword.value, ast.Constant) and keyword.value.value is False, (
                    f"{where}: {keyword.arg} must be the constant False"
                )
            if keyword.arg == "unsafe_allow_html":
                pytest.fail(f"{where}: unsafe_allow_html (user text must never be rendered as HTML)")
            if keyword.arg == "use_safetensors":
                assert isinstance(keyword.value, ast.Constant) and keyword.value.value is True, where
        if name in {"np.load", "numpy.load"}:
            assert any(k.arg == "allow_pickle" for k in node.keywords), (
                f"{where}: np.load without allow_pickle"
            )
        if name == "st.html":
            # Only the app's own CSS: a module constant, or one formatted with numbers computed here.
            (argument,) = node.args
            constant = argument.func.value if isinstance(argument, ast.Call) else argument
            assert isinstance(constant, ast.Name) and constant.id.isupper(), f"{where}: st.html of {argument}"


def test_uploaded_plans_are_parsed_in_memory_never_written():
    # The Explorer's import path: bytes in, a MaskPlan out; nothing in the UI writes files at all.
    for path in SHIPPED:
        if path.parts[-2] in {"ui", "pages"} or path.name == "app.py":
            for node in calls(ast.parse(path.read_text())):
                name = call_name(node)
                assert not name.endswith(("write_bytes", "write_text", "NamedTemporaryFile", "mkstemp")), (
                    f"{path.name}:{node.lineno} writes a file"
                )
                if name == "open" or name.endswith(".open"):
                    modes = [a for a in node.args[1:]] + [k.value for k in node.keywords if k.arg == "mode"]
                    assert all(isinstance(m, ast.Constant) and "r" in m.value for m in modes), (
                        f"{path.name}:{node.lineno} opens a file for writing"
                    )


def test_exported_attentions_load_without_pickle():
    attentions = torch.rand(2, 3, 4, 4)
    plan = MaskPlan((rule("all", "all", block={"keys": [1]}),))
    tokens = ["[CLS]", "<b>", "注意", "[SEP]"]
    result = RunResult(tokens, tokens, attentions, torch.zeros(4, 8), 0, plan, 0.1)
    with np.load(io.BytesIO(attentions_npz(result)), allow_pickle=False) as saved:
        np.testing.assert_array_equal(saved["attentions"], attentions.numpy())
        assert saved["tokens"].tolist() == tokens
        assert MaskPlan.from_json(str(saved["plan_json"])) == plan


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_verbatim_in_markdown(text: str) -> None:
    # markdown-it-py is a CommonMark reference (Streamlit's frontend follows CommonMark too).
    rendered = MarkdownIt().renderInline(escape(text))
    assert rendered == html.escape(text.replace("\n", " "), quote=False).replace("&quot;", '"')
    assert MarkdownIt().renderInline(code(text)) == f"<code>{html.escape(text, quote=False)}</code>"


def test_limits_come_from_the_environment_and_bad_values_stop_the_app():
    assert read_limits({}) == Limits()
    limits = read_limits({"MASKATTN_MAX_TOKENS": "64", "MASKATTN_ALLOW_CUSTOM_MODELS": "false"})
    assert limits.max_tokens == 64 and limits.allow_custom_models is False
    assert read_limits({"MASKATTN_MAX_MODEL_PARAMETERS": "1_000_000"}).max_model_parameters == 1_000_000
    for variable, value, message in [
        ("MASKATTN_MAX_TOKENS", "lots", "positive integer"),
        ("MASKATTN_MAX_TEXT_CHARS", "0", "positive integer"),
        ("MASKATTN_MAX_TOKENS", "4096", "at most 512"),
        ("MASKATTN_ALLOW_CUSTOM_MODELS", "perhaps", "true or false"),
    ]:
        with pytest.raises(ValueError, match=message) as raised:
            read_limits({variable: value})
        assert variable in str(raised.value)
