"""The app's head overview: the data it sends the browser (image, geometry, marks, words, save format) and
what it accepts back from a click. The browser side is tested in tests/e2e/test_explorer.py."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.colors
import pytest

from maskattn import figures as F
from maskattn.overview import OVERVIEW_LEVELS
from tests.figure_images import overview_indices, overview_palette, pooled_head_reference, softmax_attention
from ui.head_overview import _is_head, overview_data
from ui.lessons import tr
from ui.words import overview_words

L, H = 3, 5


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(99)


@pytest.mark.parametrize(("t", "how"), [(7, "max"), (24, "max"), (61, "max"), (61, "mean")])
def test_each_tile_holds_its_pooled_head_and_the_gaps_are_transparent(rng, t, how):
    attn = softmax_attention(rng, L, H, t)
    data = overview_data(attn, pool=how)
    cells = overview_indices(data).astype(np.float64)
    n, gap = data["tile"], data["gap"]
    assert n == math.ceil(t / math.ceil(t / 24)) and data["step"] == math.ceil(t / n)
    stride = n + gap
    assert cells.shape == (L * stride - gap, H * stride - gap)
    covered = np.zeros(cells.shape, dtype=bool)
    for lyr in range(L):
        for hd in range(H):
            where = np.s_[lyr * stride : lyr * stride + n, hd * stride : hd * stride + n]
            weights = (cells[where] - 1) / (OVERVIEW_LEVELS - 1)
            reference = pooled_head_reference(attn[lyr, hd], 24, how)
            np.testing.assert_allclose(weights, reference, atol=0.5 / (OVERVIEW_LEVELS - 1) + 1e-6)
            covered[where] = True
    assert (cells[~covered] == 0).all() and (cells[covered] >= 1).all()
    assert (data["note"] != "") == (data["step"] > 1), "a pooled overview says so under it"


def test_a_swapped_head_would_be_caught(rng):
    """The reference above tells heads apart: the tile of head 1 does not hold head 0."""
    attn = softmax_attention(rng, 1, 2, 6)
    data = overview_data(attn)
    cells = overview_indices(data).astype(np.float64)
    stride = data["tile"] + data["gap"]
    head_1 = (cells[:6, stride : stride + 6] - 1) / (OVERVIEW_LEVELS - 1)
    assert np.abs(head_1 - attn[0, 0]).max() > 0.5 / (OVERVIEW_LEVELS - 1)


def test_the_colour_bar_is_the_palettes_scale_in_both_themes():
    for theme in (F.DEFAULT_THEME, F.PRESENTATION_THEME):
        data = overview_data(np.full((1, 1, 2, 2), 0.5, dtype=np.float32), theme=theme)
        palette = overview_palette(data)[1 : OVERVIEW_LEVELS + 1].astype(int)
        # plotly's interpolation of the colour bar's stops, sampled independently at each entry's weight
        sampled = plotly.colors.sample_colorscale(data["ramp"], list(np.linspace(0.0, 1.0, OVERVIEW_LEVELS)))
        expected = np.array([plotly.colors.unlabel_rgb(c) for c in sampled])
        assert np.abs(palette - expected).max() <= 1
        assert data["ticks"][0] == 0 and data["ticks"][-1] == data["zmax"] == 1.0
        assert data["font_px"] == theme.font_size


def test_marks_are_sent_as_heads_and_bad_ones_are_refused():
    attn = np.full((L, H, 4, 4), 0.25, dtype=np.float32)
    marked = np.zeros((L, H), dtype=bool)
    marked[2, 4] = marked[0, 1] = True
    highlight = np.zeros((L, H), dtype=bool)
    highlight[1, 3] = True
    badges = np.full((L, H), "", dtype=object)
    badges[1, 3] = "prev"
    notes = np.full((L, H), "", dtype=object)
    notes[0, 0] = "previous token 0.91"
    data = overview_data(attn, marked=marked, focus=(2, 4), highlight=highlight, badges=badges, notes=notes)
    assert data["marked"] == [[0, 1], [2, 4]] and data["focus"] == [2, 4]
    assert data["highlight"] == [[1, 3]] and data["badges"] == [[1, 3, "prev"]]
    assert data["notes"] == [[0, 0, "previous token 0.91"]]
    json.dumps(data)  # what Streamlit sends: plain JSON, no numpy scalars
    plain = overview_data(attn)
    assert (plain["marked"], plain["focus"], plain["highlight"], plain["badges"]) == ([], None, [], [])
    with pytest.raises(ValueError, match="marked"):
        overview_data(attn, marked=np.zeros((H, L), dtype=bool))
    with pytest.raises(ValueError, match="focus"):
        overview_data(attn, focus=(L, 0))
    with pytest.raises(ValueError, match="NaN"):
        overview_data(np.full((L, H, 4, 4), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="export_format"):
        overview_data(attn, export_format="jpeg")


def test_the_save_format_follows_the_choice():
    attn = np.full((1, 1, 2, 2), 0.5, dtype=np.float32)
    assert overview_data(attn)["export"] == {"format": "png", "scale": F.PAPER_SCALE, "filename": "overview"}
    assert overview_data(attn, export_format="svg")["export"]["scale"] == 1


def test_words_come_in_chinese():
    data = overview_data(np.full((1, 1, 40, 40), 1 / 40, dtype=np.float32), words=overview_words("zh"))
    assert data["words"]["weight"] == "权重"
    assert data["words"]["head_name"].format(layer=2, head=3) == "第 2 层 · 第 3 个头"
    assert data["note"] == tr("overview.pooled_max", "zh", step=2)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ([1, 2], True),
        ([0, 0], True),
        ([2, 4], True),
        ([3, 0], False),  # no layer 3
        ([0, 5], False),
        ([-1, 0], False),
        ([True, 1], False),  # a bool is not a head number
        ([1.0, 2], False),
        (["1", "2"], False),
        ([1], False),
        ([1, 2, 3], False),
        ({"0": 1, "1": 2}, False),
        (None, False),
    ],
)
def test_a_click_is_taken_only_for_a_head_that_exists(value, ok):
    assert _is_head(value, L, H) is ok
