"""The Explorer's colour scale: the fixed 0–1, or the focused head's largest weight."""

import numpy as np

from ui.theme import weights_top


def test_the_fixed_scale_is_one_whatever_the_weights():
    assert weights_top([np.full((3, 3), 0.01)], contrast=False) == 1.0


def test_contrast_tops_at_the_largest_finite_weight_before_or_after():
    before = np.array([[0.5, 0.5], [0.25, 0.75]]) / 10
    after = np.array([[1.0, np.nan], [0.2, 0.8]]) / 10  # a blocked cell is NaN in a figure's grid
    assert weights_top([before, after], contrast=True) == 0.1


def test_contrast_never_exceeds_one_nor_reaches_zero():
    assert weights_top([np.array([[1.0000001]])], contrast=True) == 1.0
    assert weights_top([np.zeros((2, 2))], contrast=True) == 1e-6
    assert weights_top([np.full((2, 2), np.nan)], contrast=True) == 1.0  # nothing finite: the fixed scale
