"""Helpers shared by the classroom pages (Mask Lab, Learn): cached runs, compact figures, Explorer links."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from maskattn import DEFAULT_MODEL_ID, MaskPlan, rule
from maskattn import figures as fig
from maskattn.stepthrough import (
    HeadTrace,
    SemanticsComparison,
    compare_semantics,
    model_embeddings,
    seeded_module,
    trace_head,
)
from ui import frame, limits
from ui.figure_export import chart_config
from ui.models import get_model
from ui.share import SharedState, to_query_params
from ui.theme import figure_theme

EXPLORER_URL_PATH = "./"  # the Explorer is the default page, served at the root


def compact_theme(side_px: int = 240, max_cell_px: int = 28) -> fig.Theme:
    """Return the current figure theme with smaller matrices, for three or more figures side by side."""
    return dataclasses.replace(figure_theme(), matrix_side_px=side_px, max_cell_px=max_cell_px)


def show_figure(figure: go.Figure, key: str, *, stretch: bool = False) -> None:
    """Draw a plotly figure at its own size, or as wide as its column with ``stretch`` (cells stay square)."""
    st.plotly_chart(
        figure, key=key, config=chart_config(key), width="stretch" if stretch else "content", theme=None
    )


@dataclasses.dataclass(frozen=True)
class LabInputs:
    """What the Mask Lab's module attends over: ``x`` (1, T, E), a label per token, and where it came from."""

    x: torch.Tensor
    labels: list[str]
    source: str

    @property
    def num_tokens(self) -> int:
        return self.x.shape[1]

    @property
    def d_model(self) -> int:
        return self.x.shape[2]


@st.cache_resource(show_spinner=False, max_entries=limits.LIMITS.cached_lab_inputs)
def cached_embeddings(text: str) -> tuple[torch.Tensor, list[str]]:
    """Return the default model's first-layer inputs for ``text`` (cached, never mutated)."""
    return model_embeddings(get_model(DEFAULT_MODEL_ID), text, limits.LAB_MAX_TOKENS)


def lab_semantics(
    inputs: LabInputs, blocked: np.ndarray, *, heads: int, head: int, seed: int
) -> tuple[int, SemanticsComparison]:
    """Return ``(d_k, comparison)``: ``head`` of a seeded module under the three semantics of ``blocked``."""
    module = seeded_module(inputs.d_model, heads, seed)
    allow = torch.from_numpy(~blocked)  # the one conversion: the painter's blocked cells → True = may attend
    return module.d_k, compare_semantics(module, inputs.x, allow, head)


def largest_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """Return the largest absolute difference of two equal-shaped tensors."""
    return float((a - b).abs().max())


@st.cache_resource(show_spinner=False, max_entries=limits.LIMITS.cached_traces)
def cached_trace(model_name: str, text: str, plan_key: str, layer: int, head: int) -> HeadTrace:
    """Return the step-through of ``head`` in ``layer`` (cached on the model, text, plan and head)."""
    return trace_head(get_model(model_name), text, MaskPlan.from_json(plan_key), layer, head)


@st.cache_resource(show_spinner=False, max_entries=limits.LIMITS.cached_seed_examples)
def cached_seed_example(seed: int, training: bool) -> dict[str, Any]:
    """Return ``examples.seed_example.run_seed_example(seed, training=...)`` (cached; never mutated)."""
    from examples.seed_example import run_seed_example

    return run_seed_example(seed, training=training)


def explorer_href(params: Mapping[str, str]) -> str:
    """Return a relative link to the Explorer page with ``params`` (opens a new session in a new tab)."""
    return f"{EXPLORER_URL_PATH}?{urlencode(dict(params))}"


def open_in_explorer(
    params: Mapping[str, str], *, key: str, label: str, share_label: str | None = None
) -> None:
    """Draw a button that opens the Explorer in this session with ``params`` (text, plan, focus) applied.

    The Explorer takes a changed address as one edit, so the user's own plan stays one undo away; the session
    keeps everything else (language, presentation mode, model). ``share_label`` adds a plain link that opens
    the same state in a new tab.
    """
    if st.button(label, key=key, icon=":material/open_in_new:"):
        st.switch_page(frame.EXPLORER.path, query_params=dict(params))
    if share_label:
        st.caption(f"[{share_label}]({explorer_href(params)})")


def to_explorer_params(text: str, model: str, plan: MaskPlan, focus: tuple[int, int]) -> dict[str, str]:
    """Return the Explorer's URL query parameters for this text, model, plan and focused head."""
    return to_query_params(SharedState(text, model, plan, focus))


def trace_plan(layer: int, head: int, preset: str, blocked_keys: list[int]) -> MaskPlan:
    """Return the plan that gives only (layer, head) the preset and the blocked keys."""
    if preset == "full" and not blocked_keys:
        return MaskPlan()
    return MaskPlan(
        (
            rule(
                [layer],
                [head],
                allow=None if preset == "full" else {"preset": preset},
                block={"keys": sorted(blocked_keys)} if blocked_keys else None,
                label="Mask Lab",
            ),
        )
    )
