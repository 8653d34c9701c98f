"""The import rules that keep the layers apart, read from the source (AST), for every module there is.

- ``maskattn/`` (the library, every module, including ones added later) never imports Streamlit or ``ui``;
- ``maskattn/masks.py`` and ``maskattn/attention.py`` never import ``transformers`` or plotly;
- ``maskattn/figures.py`` never imports torch or Streamlit;
- ``pages/`` (the Streamlit pages) never import torch: what needs tensors lives in ``ui`` or the library;
- nothing imports a private name (``_x``) across packages: not ``ui`` from ``maskattn`` or the other way,
  and a page from nowhere at all.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LIBRARY = sorted((REPO / "maskattn").rglob("*.py"))
PAGES = sorted((REPO / "pages").rglob("*.py"))
FRONT_END = [REPO / "app.py", *sorted((REPO / "ui").rglob("*.py")), *PAGES]
OUR_PACKAGES = {"maskattn", "ui", "pages"}


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name ("maskattn.figures"), relative imports resolved
    names: tuple[str, ...]  # the names a ``from`` import takes (empty for ``import x``)
    line: int

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def package_of(path: Path) -> str:
    """Return the dotted package a file's relative imports start from (``ui.lessons`` for ui/lessons/x.py)."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1])  # a module's folder; for __init__.py that is the package itself


def imports_of(source: str, package: str) -> list[Import]:
    """Return every import in ``source`` (anywhere: top level, functions, ``if TYPE_CHECKING``)."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
                module = ".".join([*base, module] if module else base)
            found.append(Import(module, tuple(alias.name for alias in node.names), node.lineno))
    return found


def file_imports(path: Path) -> list[Import]:
    return imports_of(path.read_text(), package_of(path))


def where(path: Path, imp: Import) -> str:
    return f"{path.relative_to(REPO)}:{imp.line} imports {imp.module}"


def forbidden_imports(path: Path, banned: set[str]) -> list[str]:
    return [where(path, imp) for imp in file_imports(path) if imp.top in banned]


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")  # dunders (__future__, __version__) are public


def private_imports(source: str, package: str) -> list[str]:
    """Return the private names ``source`` (in ``package``) imports across packages."""
    home = package.split(".")[0] if package else "app"
    problems = []
    for imp in imports_of(source, package):
        if imp.top == home and home != "pages":
            continue  # a package's own private names are its business
        if home != "pages" and imp.top not in OUR_PACKAGES:
            continue  # other people's packages: not ours to rule
        private_module = any(
            part.startswith("_") and not part.startswith("__") for part in imp.module.split(".")
        )
        private_names = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        if private_module or private_names:
            problems.append(f"line {imp.line}: {imp.module} {private_names or ''}".rstrip())
    return problems


def test_the_rules_see_every_file():
    assert {p.name for p in LIBRARY} >= {"masks.py", "attention.py", "figures.py", "plan.py", "__init__.py"}
    assert {p.name for p in PAGES} == {"explorer.py", "mask_lab.py", "learn.py"}


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(REPO)))
def test_library_never_imports_streamlit_or_ui(path):
    assert forbidden_imports(path, {"streamlit", "ui", "pages"}) == []


@pytest.mark.parametrize("name", ["masks.py", "attention.py"])
def test_mask_algebra_and_attention_never_import_transformers_or_plotly(name):
    assert forbidden_imports(REPO / "maskattn" / name, {"transformers", "plotly"}) == []


def test_figures_never_import_torch_or_streamlit():
    assert forbidden_imports(REPO / "maskattn" / "figures.py", {"torch", "streamlit"}) == []


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_pages_never_import_torch(path):
    assert forbidden_imports(path, {"torch"}) == []


@pytest.mark.parametrize("path", LIBRARY + FRONT_END, ids=lambda p: str(p.relative_to(REPO)))
def test_no_private_names_cross_packages(path):
    assert private_imports(path.read_text(), package_of(path)) == []


# The checks themselves, on small sources: each rule catches what it should and nothing else.


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("import streamlit as st", "maskattn", {"streamlit"}),
        ("import streamlit.components.v2", "maskattn", {"streamlit.components.v2"}),
        ("from ui.limits import LIMITS", "maskattn", {"ui.limits"}),
        ("def f():\n    import torch\n", "pages", {"torch"}),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
            "pages",
            {"typing", "torch"},
        ),
        ("from . import limits", "ui", {"ui"}),
        ("from .content import tr", "ui.lessons", {"ui.lessons.content"}),
        ("from .. import limits", "ui.lessons", {"ui"}),
    ],
)
def test_imports_are_found_wherever_they_are_and_relative_ones_resolved(source, package, expected):
    assert {imp.module for imp in imports_of(source, package)} == expected


@pytest.mark.parametrize(
    ("source", "package", "caught"),
    [
        ("from maskattn.figures import _matrix_frame", "ui", True),
        ("from maskattn._impl import thing", "ui", True),
        ("from ui.models import _run_cached", "maskattn", True),
        ("from ui.models import _run_cached", "pages", True),
        ("from streamlit.runtime import _x", "pages", True),
        ("from .painter_codec import _BITS", "ui", False),  # inside its own package
        ("from maskattn.figures import Theme", "ui", False),
        ("from streamlit.runtime import _x", "ui", False),  # not our package
        ("from __future__ import annotations", "pages", False),
    ],
)
def test_private_import_rule(source, package, caught):
    assert bool(private_imports(source, package)) is caught
