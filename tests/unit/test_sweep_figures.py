"""maskattn.figures for the research instruments: the sweep heatmap and curve, head types on the overview,
and the download config. References are written out here, never taken from the module's helpers."""

from __future__ import annotations

import numpy as np
import pytest

from maskattn import figures as F
from tests.app.conftest import heatmap_values

L, H = 3, 4


def trace(figure, name: str):
    (found,) = [t for t in figure.data if t.name == name]
    return found


def test_sweep_heatmap_has_one_clickable_cell_per_head_and_per_layer():
    effects = np.arange(L * H, dtype=np.float32).reshape(L, H) - 5  # some negative, some positive
    figure = F.sweep_heatmap_figure(effects, layer_effects=[1.0, -7.0, 2.0], measure="Δ KL")
    z = heatmap_values(trace(figure, "effects"))
    assert z.shape == (L, H + 2)  # the heads, a gap, the whole layer
    np.testing.assert_array_equal(z[:, :H], effects)
    assert np.isnan(z[:, H]).all() and list(z[:, H + 1]) == [1.0, -7.0, 2.0]
    heat = trace(figure, "effects")
    assert heat.zmin == -7.0 and heat.zmax == 7.0 and heat.zmid == 0.0  # symmetric: sign reads as colour
    cells = [tuple(c) for c in trace(figure, "cells").customdata]
    assert cells == [(layer, head) for layer in range(L) for head in range(H)] + [
        (layer, -1) for layer in range(L)
    ]
    assert "Δ KL" in trace(figure, "cells").text[0]


def test_sweep_heatmap_leaves_unmeasured_cells_unclickable_and_fits_the_width():
    effects = np.zeros((L, H), dtype=np.float32)
    effects[1, 2] = np.nan
    figure = F.sweep_heatmap_figure(effects, max_width=300, focus=(0, 1))
    assert (1, 2) not in [tuple(c) for c in trace(figure, "cells").customdata]
    assert figure.layout.width <= 300
    assert [s.name for s in figure.layout.shapes] == ["focus"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"effects": np.zeros(4)}, "effects"),
        ({"effects": np.zeros((L, H)), "layer_effects": [1.0]}, "layer_effects"),
    ],
)
def test_sweep_heatmap_refuses_misshapen_input(kwargs, reason):
    effects = kwargs.pop("effects")
    with pytest.raises(ValueError, match=reason):
        F.sweep_heatmap_figure(effects, **kwargs)


def test_sweep_curve_has_one_clickable_point_per_value():
    figure = F.sweep_curve_figure([1, 2, 3], [0.5, -0.1, 0.0], x_title="size", chosen=1)
    points = trace(figure, "points")
    assert [list(c) for c in points.customdata] == [[0], [1], [2]]
    colors = list(points.marker.color)
    assert list(points.x) == ["1", "2", "3"] and colors[1] == F.DEFAULT_THEME.accent_color != colors[0]
    with pytest.raises(ValueError, match="same length"):
        F.sweep_curve_figure([1, 2], [0.5], x_title="size")


def test_overview_draws_head_type_badges_highlights_and_notes():
    attentions = np.full((L, H, 5, 5), 0.2, dtype=np.float32)
    badges = np.full((L, H), "", dtype=object)
    badges[2, 3] = "ind"
    highlight = np.zeros((L, H), dtype=bool)
    highlight[2, 3] = highlight[0, 0] = True
    notes = np.full((L, H), "prev 0.10", dtype=object)
    figure = F.overview_figure(attentions, badges=badges, highlight=highlight, notes=notes)
    assert list(trace(figure, "badges").text) == ["ind"]
    assert sorted(s.name for s in figure.layout.shapes) == ["highlight L0 h0", "highlight L2 h3"]
    assert all(s.line.dash == "dot" for s in figure.layout.shapes)
    assert "prev 0.10" in trace(figure, "heads").text[0]
    plain = F.overview_figure(attentions)
    assert "badges" not in [t.name for t in plain.data] and not plain.layout.shapes


@pytest.mark.parametrize("name", ["highlight", "badges", "notes"])
def test_overview_refuses_head_type_grids_of_the_wrong_shape(name):
    wrong = np.zeros((L, H + 1), dtype=bool if name == "highlight" else object)
    with pytest.raises(ValueError, match=name):
        F.overview_figure(np.full((L, H, 4, 4), 0.25), **{name: wrong})


@pytest.mark.parametrize(("image_format", "scale"), [("png", 4), ("svg", 1)])
def test_export_config_saves_the_chosen_format(image_format, scale):
    config = F.export_config(image_format, "head_importance")
    assert config["toImageButtonOptions"] == {
        "format": image_format,
        "scale": scale,
        "filename": "head_importance",
    }
    assert config["displaylogo"] is False


def test_export_config_refuses_other_formats():
    with pytest.raises(ValueError, match="image_format"):
        F.export_config("gif")
