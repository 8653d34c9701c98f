"""Tests for maskattn.figures: geometry, payload, labels and masking drawn as the data says.

References are computed here independently (explicit loops over blocks and tiles), never with the module's
own helpers.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from maskattn import figures as F
from tests.figure_images import (
    overview_indices,
    overview_palette,
    overview_png,
    pooled_head_reference,
    softmax_attention,
)

L, H = 6, 12


def traces_named(fig: go.Figure, name: str) -> list:
    return [tr for tr in fig.data if tr.name == name]


def all_hover_strings(fig: go.Figure) -> list[str]:
    out = []
    for tr in fig.data:
        if getattr(tr, "hovertemplate", None):
            out.append(tr.hovertemplate)
        text = getattr(tr, "text", None)
        if text is not None:
            out.extend(str(t) for t in np.ravel(np.asarray(text, dtype=object)))
    return out


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------------------------------------
# Overview


@pytest.mark.parametrize(("t", "how"), [(8, "max"), (24, "max"), (50, "max"), (50, "mean"), (128, "mean")])
def test_overview_tiles_hold_the_pooled_heads_at_their_place(rng, t, how):
    thumb = 24
    attn = softmax_attention(rng, L, H, t)
    fig = F.overview_figure(attn, thumb_px=thumb, pool=how)
    cells = overview_indices(fig).astype(np.float64)
    n = math.ceil(t / math.ceil(t / thumb))
    meta = fig.layout.meta
    assert meta["tile"] == n
    gap = meta["gap"]
    assert gap >= 1
    stride = n + gap
    assert cells.shape == (L * stride - gap, H * stride - gap)
    covered = np.zeros(cells.shape, dtype=bool)
    for lyr in range(L):
        for hd in range(H):
            tile = cells[lyr * stride : lyr * stride + n, hd * stride : hd * stride + n]
            # Entry 1 + k shows the weight k / 254: within half a level of the pooled weight.
            weights = (tile - 1) / (F.OVERVIEW_LEVELS - 1)
            reference = pooled_head_reference(attn[lyr, hd], thumb, how)
            np.testing.assert_allclose(weights, reference, atol=0.5 / (F.OVERVIEW_LEVELS - 1) + 1e-6)
            covered[lyr * stride : lyr * stride + n, hd * stride : hd * stride + n] = True
    assert (cells[~covered] == 0).all(), "everything between tiles is the transparent gap"
    assert (cells[covered] >= 1).all()
    (tiles,) = traces_named(fig, "tiles")
    assert (tiles.x0, tiles.y0, tiles.dx, tiles.dy) == (0, 0, 1, 1), "cell (i, j) is centred on (j, i)"
    assert tiles.zsmooth is False and tiles.hoverinfo == "skip"


def test_overview_palette_is_plotlys_colour_scale_for_its_colour_bar():
    for theme in (F.DEFAULT_THEME, F.PRESENTATION_THEME):
        fig = F.overview_figure(np.full((1, 1, 2, 2), 0.5, dtype=np.float32), theme=theme)
        palette = overview_palette(fig)[1 : F.OVERVIEW_LEVELS + 1].astype(int)
        (bar,) = traces_named(fig, "colour bar")
        scale = [list(stop) for stop in bar.colorscale]
        # plotly's own interpolation of the colour bar's stops, at each palette entry's weight
        levels = list(np.linspace(0.0, 1.0, F.OVERVIEW_LEVELS))
        sampled = plotly.colors.sample_colorscale(scale, levels)
        expected = np.array([plotly.colors.unlabel_rgb(c) for c in sampled])
        assert np.abs(palette - expected).max() <= 1
        assert (bar.zmin, bar.zmax, bar.opacity) == (0.0, 1.0, 0.0), "the bar is all that shows of it"
        assert bar.colorbar.title.text == F.ENGLISH.weight
        # A palette one level off would be caught: neighbouring levels differ by more than rounding.
        assert np.abs(palette[8:] - expected[:-8]).max() > 1


def test_overview_weights_above_zmax_take_the_top_colour():
    attn = np.zeros((1, 2, 4, 4), dtype=np.float32)
    attn[0, 0] = 0.2
    attn[0, 1] = 0.9
    cells = overview_indices(F.overview_figure(attn, zmax=0.4))
    n, stride = 4, 4 + F.overview_figure(attn).layout.meta["gap"]
    assert (cells[:n, :n] == 1 + round(0.5 * (F.OVERVIEW_LEVELS - 1))).all()  # 0.2 of 0.4: half-way
    assert (cells[:n, stride : stride + n] == F.OVERVIEW_LEVELS).all()


def test_overview_click_targets_sit_on_tile_centres_with_layer_head_customdata(rng):
    fig = F.overview_figure(softmax_attention(rng, L, H, 40))
    n, gap = fig.layout.meta["tile"], fig.layout.meta["gap"]
    targets = traces_named(fig, "heads")
    assert len(targets) == 1
    tg = targets[0]
    pairs = [tuple(cd) for cd in tg.customdata]
    assert sorted(pairs) == [(lyr, hd) for lyr in range(L) for hd in range(H)]
    for (lyr, hd), x, y, text in zip(pairs, tg.x, tg.y, tg.text, strict=True):
        assert x == pytest.approx(hd * (n + gap) + (n - 1) / 2)
        assert y == pytest.approx(lyr * (n + gap) + (n - 1) / 2)
        assert text.startswith(f"layer {lyr}, head {hd}")
    assert all(isinstance(v, int) for cd in tg.customdata for v in cd), "plain ints survive Streamlit's JSON"
    assert tg.marker.symbol == "square"
    assert tg.marker.size == F.DEFAULT_THEME.overview_tile_px
    assert fig.layout.dragmode is False


def test_overview_axis_ticks_name_heads_and_layers(rng):
    fig = F.overview_figure(softmax_attention(rng, L, H, 10))
    assert list(fig.layout.xaxis.ticktext) == [f"h{h}" for h in range(H)]
    assert list(fig.layout.yaxis.ticktext) == [f"L{lyr}" for lyr in range(L)]
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1], "layer 0 at the top"


def test_overview_outlines_marked_heads_and_the_focus(rng):
    marked = np.zeros((L, H), dtype=bool)
    marked[1, 3] = marked[4, 11] = marked[2, 5] = True
    fig = F.overview_figure(softmax_attention(rng, L, H, 30), marked=marked, focus=(2, 5))
    n, gap = fig.layout.meta["tile"], fig.layout.meta["gap"]
    stride = n + gap
    shapes = {s.name: s for s in fig.layout.shapes}
    assert set(shapes) == {"marked L1 h3", "marked L4 h11", "marked L2 h5", "focus L2 h5"}
    for name, shape in shapes.items():
        lyr, hd = (int(part[1:]) for part in name.split()[1:])
        x_lo, x_hi = hd * stride - 0.5, hd * stride + n - 0.5  # the tile's cell edges
        y_lo, y_hi = lyr * stride - 0.5, lyr * stride + n - 0.5
        assert shape.x0 <= x_lo and shape.x1 >= x_hi and shape.y0 <= y_lo and shape.y1 >= y_hi
        # ... but inside the gap, never over a neighbour tile
        assert shape.x0 > x_lo - gap and shape.x1 < x_hi + gap
        assert shape.y0 > y_lo - gap and shape.y1 < y_hi + gap
    assert shapes["focus L2 h5"].line.width > shapes["marked L2 h5"].line.width
    assert shapes["focus L2 h5"].line.color == F.DEFAULT_THEME.focus_color
    assert shapes["marked L1 h3"].line.color == F.DEFAULT_THEME.accent_color
    (targets,) = traces_named(fig, "heads")
    hover = {tuple(cd): text for cd, text in zip(targets.customdata, targets.text, strict=True)}
    assert "mask" in hover[(1, 3)] and "mask" not in hover[(0, 0)]


def test_overview_without_marks_has_no_outlines(rng):
    fig = F.overview_figure(softmax_attention(rng, 2, 3, 9))
    assert len(fig.layout.shapes) == 0


def _as_plotly_validates_it(fig: go.Figure) -> dict:
    """Return ``fig`` as JSON after plotly's full validation (which raises on any invalid property)."""
    return json.loads(pio.to_json(go.Figure(fig.to_dict())))


@pytest.mark.parametrize("decorated", [False, True])
def test_the_unvalidated_overview_is_what_plotly_validates(rng, decorated: bool):
    # The overview skips plotly's validation to be cheap per edit: plotly's own validation must accept it
    # and change nothing in it.
    kwargs = {}
    if decorated:
        marked, highlight = np.zeros((L, H), dtype=bool), np.zeros((L, H), dtype=bool)
        marked[1, 2] = highlight[0, 3] = True
        badges, notes = np.full((L, H), "", dtype=object), np.full((L, H), "", dtype=object)
        badges[1, 1], notes[0, 0] = "prev", "a <b> note"
        kwargs = {"marked": marked, "focus": (1, 2), "highlight": highlight, "badges": badges}
        kwargs |= {"notes": notes, "title": "all heads", "max_width": 500, "theme": F.PRESENTATION_THEME}
    fig = F.overview_figure(softmax_attention(rng, L, H, 40), **kwargs)
    assert json.loads(pio.to_json(fig)) == _as_plotly_validates_it(fig)


def test_plotlys_validation_catches_a_wrong_overview(rng):
    # The reference above would catch a mistake: a misspelt property, a value of the wrong kind.
    fig = F.overview_figure(softmax_attention(rng, L, H, 8))
    typo = go.Figure(fig.to_dict() | {"layout": fig.to_dict()["layout"] | {"heigth": 300}}, _validate=False)
    with pytest.raises(ValueError, match="heigth"):
        _as_plotly_validates_it(typo)
    wrong = fig.to_dict()
    wrong["data"][2]["mode"] = "dots"
    with pytest.raises(ValueError, match="mode"):
        _as_plotly_validates_it(go.Figure(wrong, _validate=False))
    # And a value plotly would change (an empty list it drops) shows up as a difference.
    empty = fig.to_dict()
    empty["layout"]["shapes"] = []
    changed = go.Figure(empty, _validate=False)
    assert json.loads(pio.to_json(changed)) != _as_plotly_validates_it(changed)


def test_overview_sends_one_small_png_at_t128(rng):
    fig = F.overview_figure(softmax_attention(rng, L, H, 128))
    assert len(fig.to_json()) < 120_000  # the tiled float32 heatmap it replaced sent ~300 kB
    assert overview_png(fig).format == "PNG"
    (bar,) = traces_named(fig, "colour bar")
    assert np.asarray(bar.z).size == 2, "the colour bar's heatmap carries no data"


def test_overview_payload_stops_growing_once_thumbnails_saturate(rng):
    sizes = {t: len(F.overview_figure(softmax_attention(rng, L, H, t)).to_json()) for t in (32, 128, 512)}
    assert sizes[512] < 1_000_000
    assert sizes[512] <= 1.3 * sizes[128], sizes
    # full resolution would grow with T^2: 256 times from T=32 to T=512
    assert sizes[512] < 4 * sizes[32], sizes


# ---------------------------------------------------------------------------------------------------------
# Focus and difference


TOKENS = ["[CLS]", "the", "cat", "sat", "on", "the", "猫", "##ing", "<s>", "[SEP]"]


def test_focus_repeated_tokens_keep_distinct_positions(rng):
    t = len(TOKENS)
    fig = F.focus_figure(softmax_attention(rng, 1, 1, t)[0, 0], TOKENS)
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert len(set(axis.tickvals)) == len(axis.tickvals)
        assert axis.type == "category"
    heat = fig.data[0]
    assert len(set(heat.x)) == t and len(set(heat.y)) == t
    assert list(fig.layout.xaxis.ticktext).count("the") == 2
    assert "&lt;s&gt;" in fig.layout.xaxis.ticktext, "'<s>' is escaped, not read as an HTML tag"
    assert "猫" in fig.layout.yaxis.ticktext and "##ing" in fig.layout.yaxis.ticktext
    # hover names the token with its index: "query 5 'the' → key 1 'the'"
    assert heat.y[5] == "5 'the'" and heat.x[1] == "1 'the'"
    assert "query %{y} → key %{x}" in heat.hovertemplate and "%{z:.4f}" in heat.hovertemplate


def test_focus_layout_is_square_with_query_zero_on_top(rng):
    fig = F.focus_figure(softmax_attention(rng, 1, 1, 6)[0, 0], TOKENS[:6])
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert fig.layout.yaxis.autorange == "reversed"


@pytest.mark.parametrize("t", [10, 80])
def test_focus_blocked_overlay_covers_exactly_the_blocked_cells(rng, t):
    weights = softmax_attention(rng, 1, 1, t)[0, 0]
    tokens = [f"w{i % 7}" for i in range(t)]
    allow = rng.random((t, t)) > 0.4
    fig = F.focus_figure(weights, tokens, allow=allow)
    main = traces_named(fig, "weights")[0]
    overlay = traces_named(fig, "blocked")[0]
    main_z, over_z = np.asarray(main.z), np.asarray(overlay.z)
    np.testing.assert_array_equal(np.isnan(main_z), ~allow)
    np.testing.assert_array_equal(np.isfinite(over_z), ~allow)
    np.testing.assert_allclose(over_z[~allow], weights[~allow])
    np.testing.assert_allclose(main_z[allow], weights[allow])
    assert "blocked" in overlay.hovertemplate
    assert main.hoverongaps is False and overlay.hoverongaps is False
    assert overlay.showscale is False
    marks = traces_named(fig, "blocked marks")
    if t <= 64:
        cats = list(main.x)
        got = {(cats.index(y), cats.index(x)) for x, y in zip(marks[0].x, marks[0].y, strict=True)}
        assert got == set(zip(*np.nonzero(~allow), strict=True))
    else:
        assert marks == [], "no per-cell markers for large T"


def test_focus_without_blocked_cells_has_no_overlay(rng):
    fig = F.focus_figure(softmax_attention(rng, 1, 1, 5)[0, 0], TOKENS[:5], allow=np.ones((5, 5), bool))
    assert [tr.name for tr in fig.data] == ["weights"]


def test_focus_colour_range_defaults_to_the_largest_allowed_weight(rng):
    w = softmax_attention(rng, 1, 1, 8)[0, 0]
    allow = np.tril(np.ones((8, 8), bool))
    fig = F.focus_figure(w, TOKENS[:8], allow=allow)
    assert fig.data[0].zmin == 0 and fig.data[0].zmax == pytest.approx(w[allow].max())
    assert F.focus_figure(w, TOKENS[:8], zmax=1.0).data[0].zmax == 1.0


def test_difference_is_centred_symmetric_and_hovers_before_after(rng):
    t = 7
    before = softmax_attention(rng, 1, 1, t)[0, 0]
    after = softmax_attention(rng, 1, 1, t)[0, 0]
    fig = F.difference_figure(before, after, TOKENS[:t])
    heat = fig.data[0]
    np.testing.assert_allclose(heat.z, after.astype(np.float64) - before, atol=1e-6)
    reach = np.abs(after.astype(np.float64) - before).max()
    assert heat.zmid == 0 and heat.zmax == pytest.approx(reach) and heat.zmin == pytest.approx(-reach)
    cd = np.asarray(heat.customdata)
    np.testing.assert_array_equal(cd[..., 0], before)
    np.testing.assert_array_equal(cd[..., 1], after)
    for part in ("before %{customdata[0]", "after %{customdata[1]", "diff %{z"):
        assert part in heat.hovertemplate


def test_difference_of_identical_heads_still_has_a_valid_scale(rng):
    w = softmax_attention(rng, 1, 1, 4)[0, 0]
    heat = F.difference_figure(w, w, TOKENS[:4]).data[0]
    assert heat.zmin < 0 < heat.zmax


def test_difference_marks_blocked_cells(rng):
    t = 6
    before = softmax_attention(rng, 1, 1, t)[0, 0]
    allow = np.tril(np.ones((t, t), bool))
    fig = F.difference_figure(before, before * allow, TOKENS[:t], allow=allow)
    overlay = traces_named(fig, "blocked")[0]
    np.testing.assert_array_equal(np.isfinite(np.asarray(overlay.z)), ~allow)
    assert "blocked" in overlay.hovertemplate and "diff %{z" in overlay.hovertemplate
    np.testing.assert_allclose(np.asarray(overlay.z)[~allow], -before[~allow], atol=1e-7)


# ---------------------------------------------------------------------------------------------------------
# Teaching matrices


def test_matrix_title_carries_the_shape(rng):
    fig = F.matrix_figure(rng.standard_normal((7, 32)), title="Q")
    assert fig.layout.title.text == "Q (7 × 32)"
    assert "%{z:.4f}" in fig.data[0].hovertemplate


def test_matrix_shows_minus_infinity_as_text_and_its_own_colour():
    t = 5
    allow = np.tril(np.ones((t, t), bool))
    scores = np.where(allow, np.arange(t * t, dtype=np.float64).reshape(t, t) / 10, -np.inf)
    fig = F.matrix_figure(scores, title="scores", row_labels=TOKENS[:t], col_labels=TOKENS[:t])
    main = fig.data[0]
    assert np.isnan(np.asarray(main.z)[~allow]).all() and main.hoverongaps is False
    assert main.zmax == pytest.approx(scores[allow].max()) and main.zmin == pytest.approx(0.0)
    overlay = traces_named(fig, "−∞")[0]
    np.testing.assert_array_equal(np.isfinite(np.asarray(overlay.z)), ~allow)
    assert "−∞" in overlay.hovertemplate
    labels = traces_named(fig, "−∞ labels")[0]
    assert set(labels.text) == {"−∞"}
    rows, cols = list(main.y), list(main.x)
    got = {(rows.index(y), cols.index(x)) for x, y in zip(labels.x, labels.y, strict=True)}
    assert got == set(zip(*np.nonzero(~allow), strict=True))
    hover = " ".join(all_hover_strings(fig)).lower()
    assert "nan" not in hover


def test_matrix_names_other_non_finite_values_too():
    m = np.array([[1.0, np.inf], [np.nan, -np.inf]])
    fig = F.matrix_figure(m, title="odd")
    assert {tr.name for tr in fig.data} >= {"−∞", "+∞", "undefined"}
    assert "nan" not in " ".join(all_hover_strings(fig)).lower()


def test_matrix_show_values_and_diverging(rng):
    m = rng.standard_normal((3, 4))
    fig = F.matrix_figure(m, title="V", show_values=True, diverging=True)
    heat = fig.data[0]
    assert heat.texttemplate == "%{z:.3f}"
    assert heat.zmid == 0 and heat.zmin == pytest.approx(-np.abs(m).max())
    assert heat.zmax == pytest.approx(np.abs(m).max())
    plain = F.matrix_figure(m, title="V")
    assert plain.data[0].texttemplate is None


# ---------------------------------------------------------------------------------------------------------
# Bars


def test_token_change_bars_follow_the_tokens(rng):
    change = rng.random(len(TOKENS))
    fig = F.token_change_figure(TOKENS, change, measure="L2")
    bar = fig.data[0]
    np.testing.assert_allclose(bar.y, change, rtol=1e-6)
    assert len(set(bar.x)) == len(TOKENS)
    assert "L2" in bar.hovertemplate


def test_row_sums_show_each_variant_and_the_line_at_one(rng):
    t = 6
    w = softmax_attention(rng, 1, 1, t)[0, 0]
    allow = np.tril(np.ones((t, t), bool))
    variants = {"no mask": w, "zeroed after softmax": w * allow}
    fig = F.row_sums_figure(variants, TOKENS[:t])
    assert [tr.name for tr in fig.data] == list(variants)
    for tr, weights in zip(fig.data, variants.values(), strict=True):
        expected = [sum(float(v) for v in row) for row in weights]
        np.testing.assert_allclose(tr.y, expected, rtol=1e-5)
    line = fig.layout.shapes[0]
    assert line.y0 == 1 and line.y1 == 1


# ---------------------------------------------------------------------------------------------------------
# Theme, export, config


def test_presentation_theme_is_larger_and_themes_are_frozen(rng):
    assert F.PRESENTATION_THEME.font_size > F.DEFAULT_THEME.font_size
    with pytest.raises(dataclasses.FrozenInstanceError):
        F.DEFAULT_THEME.font_size = 30  # type: ignore[misc]
    w = softmax_attention(rng, 1, 1, 5)[0, 0]
    small = F.focus_figure(w, TOKENS[:5])
    big = F.focus_figure(w, TOKENS[:5], theme=F.PRESENTATION_THEME)
    assert big.layout.font.size == F.PRESENTATION_THEME.font_size
    assert big.layout.height > small.layout.height
    assert big.data[0].colorscale != small.data[0].colorscale


def test_figure_html_inlines_plotly_js(rng):
    page = F.figure_html(F.matrix_figure(rng.standard_normal((2, 2)), title="x"))
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert re.search(r"<script[^>]*\bsrc=", page) is None, "no external script: the app runs offline"
    assert len(page) > 1_000_000, "plotly.js itself is in the page"
    assert '"displaylogo": false' in page


def test_plotly_config_exports_png_at_paper_resolution():
    assert F.PLOTLY_CONFIG["displaylogo"] is False
    assert F.PLOTLY_CONFIG["toImageButtonOptions"]["format"] == "png"
    assert F.PLOTLY_CONFIG["toImageButtonOptions"]["scale"] == F.PAPER_SCALE == 4


# ---------------------------------------------------------------------------------------------------------
# Bad input


def _w(t: int) -> np.ndarray:
    return np.full((t, t), 1.0 / t, dtype=np.float32)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: F.overview_figure(np.zeros((2, 3, 4))), "(2, 3, 4)"),
        (lambda: F.overview_figure(np.zeros((2, 3, 4, 5))), "(2, 3, 4, 5)"),
        (lambda: F.overview_figure(_w(4)[None, None], marked=np.zeros((2, 2), bool)), "(1, 1)"),
        (lambda: F.overview_figure(_w(4)[None, None], marked=np.zeros((1, 1), int)), "boolean"),
        (lambda: F.overview_figure(_w(4)[None, None], focus=(0, 3)), "focus"),
        (lambda: F.overview_figure(np.full((1, 1, 4, 4), np.nan)), "NaN"),
        (lambda: F.overview_figure(_w(4)[None, None], pool="median"), "pool"),
        (lambda: F.focus_figure(_w(4), ["a", "b", "c"]), "(4, 4)"),
        (lambda: F.focus_figure(np.ones((3, 4)), ["a", "b", "c"]), "(3, 4)"),
        (lambda: F.focus_figure(_w(3), ["a", "b", "c"], allow=np.ones((3, 2), bool)), "(3, 2)"),
        (lambda: F.focus_figure(_w(3), ["a", "b", "c"], allow=np.ones((3, 3))), "boolean"),
        (lambda: F.focus_figure(np.full((2, 2), np.inf), ["a", "b"]), "infinite"),
        (lambda: F.difference_figure(_w(3), _w(4), ["a", "b", "c"]), "(4, 4)"),
        (lambda: F.matrix_figure(np.ones((2, 3)), title="m", row_labels=["a"]), "(2, 3)"),
        (lambda: F.matrix_figure(np.ones(3), title="m"), "(3,)"),
        (lambda: F.token_change_figure(["a", "b"], np.ones(3)), "(3,)"),
        (lambda: F.row_sums_figure({"x": _w(3)}, ["a", "b"]), "(3, 3)"),
        (lambda: F.row_sums_figure({}, ["a"]), "at least one"),
    ],
)
def test_bad_input_raises_value_error_naming_the_shapes(call, needle):
    with pytest.raises(ValueError) as err:
        call()
    assert needle in str(err.value)


# ---------------------------------------------------------------------------------------------------------
# Sizes the caller asks for: a widest width, no colour bar, no axis titles


@pytest.mark.parametrize("t", [8, 40, 128])
def test_focus_figure_fits_max_width_by_shrinking_cells_only(rng, t):
    w = softmax_attention(rng, 1, 1, t)[0, 0]
    labels = [f"t{i}" for i in range(t)]
    free = F.focus_figure(w, labels, zmax=1.0)
    fitted = F.focus_figure(w, labels, zmax=1.0, max_width=300)
    assert fitted.layout.width <= 300
    assert (fitted.layout.margin.l, fitted.layout.margin.r) == (free.layout.margin.l, free.layout.margin.r)
    assert F.focus_figure(w, labels, zmax=1.0, max_width=5000).layout.width == free.layout.width


def test_small_multiple_has_no_colour_bar_or_axis_titles_and_gives_the_matrix_the_room(rng):
    w = softmax_attention(rng, 1, 1, 6)[0, 0]
    full = F.focus_figure(w, TOKENS[:6], zmax=1.0)
    small = F.focus_figure(w, TOKENS[:6], zmax=1.0, colorbar=False, axis_titles=False)
    assert full.data[0].showscale is not False and small.data[0].showscale is False
    assert not small.layout.xaxis.title.text and not small.layout.yaxis.title.text
    assert small.layout.margin.r < full.layout.margin.r and small.layout.margin.l < full.layout.margin.l
    # The cells keep their size: the figure is narrower by the margins it no longer needs (±1 px rounding).
    room = full.layout.margin.l + full.layout.margin.r - small.layout.margin.l - small.layout.margin.r
    assert abs(full.layout.width - small.layout.width - room) <= 1


def test_matrix_figure_without_colour_bar_and_within_max_width(rng):
    m = rng.standard_normal((7, 64))
    full = F.matrix_figure(m, title="Q")
    bare = F.matrix_figure(m, title="Q", colorbar=False, max_width=400)
    assert bare.data[0].showscale is False and bare.layout.width <= 400 < full.layout.width


def test_difference_figure_within_max_width(rng):
    a, b = softmax_attention(rng, 2, 1, 50)[:, 0]
    labels = [str(i) for i in range(50)]
    assert F.difference_figure(a, b, labels, max_width=320).layout.width <= 320


def test_overview_fits_max_width_by_smaller_tiles(rng):
    attn = softmax_attention(rng, 6, 12, 16)
    free = F.overview_figure(attn)
    fitted = F.overview_figure(attn, max_width=400)
    assert free.layout.width > 400 >= fitted.layout.width
    assert fitted.layout.margin.l == free.layout.margin.l and fitted.layout.margin.r == free.layout.margin.r
    (fitted_targets,), (free_targets,) = traces_named(fitted, "heads"), traces_named(free, "heads")
    assert fitted_targets.marker.size < free_targets.marker.size  # the click targets shrink with the tiles


def test_row_sums_without_title_keeps_only_the_legend_room_on_top():
    w = np.full((3, 3), 1 / 3)
    titled = F.row_sums_figure({"a": w}, ["x", "y", "z"])
    bare = F.row_sums_figure({"a": w}, ["x", "y", "z"], title="")
    assert bare.layout.margin.t < titled.layout.margin.t


# ---------------------------------------------------------------------------------------------------------
# One picture of "blocked", one colour scale per mode, labels on every token (issue 13)


def test_presentation_scale_is_light_at_zero_and_gives_small_weights_colour():
    def rgb(colour: str) -> np.ndarray:
        return np.array(plotly.colors.unlabel_rgb(colour))

    for theme in (F.DEFAULT_THEME, F.PRESENTATION_THEME):
        scale = F.weights_colorscale(theme)
        assert scale[0][0] == 0.0 and scale[-1][0] == 1.0
        luminance = np.array([0.2126, 0.7152, 0.0722])
        assert (
            rgb(scale[0][1]) @ luminance > 200 > 60 > rgb(scale[-1][1]) @ luminance
        )  # light (0) to dark (1)
    # Gamma 0.5: a weight of 0.25 gets the colour half way along the scale, not a quarter.
    scale = F.weights_colorscale(F.PRESENTATION_THEME)
    quarter = dict((round(w, 4), c) for w, c in scale)[0.25]
    (half,) = plotly.colors.sample_colorscale(F.PRESENTATION_THEME.weights_colorscale, [0.5])
    np.testing.assert_allclose(rgb(quarter), rgb(half), atol=1)


def test_every_token_keeps_its_label_when_the_cells_are_a_readable_size(rng):
    w = softmax_attention(rng, 1, 1, 13)[0, 0]
    fig = F.focus_figure(w, [f"t{i}" for i in range(13)], max_width=260, colorbar=False)
    assert len(fig.layout.xaxis.tickvals) == 13 and len(fig.layout.yaxis.tickvals) == 13
    assert fig.layout.xaxis.tickfont.size < F.DEFAULT_THEME.font_size  # smaller, not skipped


def test_blocked_cells_are_told_apart_by_what_blocked_them(rng):
    t = 6
    w = softmax_attention(rng, 1, 1, t)[0, 0]
    model = np.triu(np.ones((t, t), bool), 1)
    rule = np.zeros((t, t), bool)
    rule[:, 0] = True
    painted = np.zeros((t, t), bool)
    painted[3, 2] = True
    fig = F.focus_figure(
        w, TOKENS[:t], allow=~(model | rule | painted), blocked_by={"rule": rule, "model": model}
    )
    words = F.FigureWords()
    for kind, cells in (("model", model), ("rule", rule & ~model), ("painted", painted)):
        (veil,) = traces_named(fig, words.blocked(kind))
        np.testing.assert_array_equal(np.isfinite(np.asarray(veil.z)), cells)
        assert words.blocked(kind) in veil.hovertemplate
        (marks,) = traces_named(fig, f"{words.blocked(kind)} marks")
        assert marks.marker.symbol == ("line-nw" if kind == "model" else "line-ne")  # stripes, not a cross
    with pytest.raises(ValueError, match="kinds must be among"):
        F.focus_figure(w, TOKENS[:t], allow=~model, blocked_by={"gate": model})


def test_figure_words_name_the_axes_in_another_language(rng):
    words = dataclasses.replace(
        F.FigureWords(), query_axis="查询", key_axis="键", weight="权重", row_sum="行和"
    )
    w = softmax_attention(rng, 1, 1, 4)[0, 0]
    fig = F.focus_figure(w, TOKENS[:4], words=words)
    assert (fig.layout.yaxis.title.text, fig.layout.xaxis.title.text) == ("查询", "键")
    assert fig.data[0].colorbar.title.text == "权重"
    sums = F.row_sums_figure({"a": w}, TOKENS[:4], words=words)
    assert sums.layout.yaxis.title.text == "行和"
