"""The downloads the Explorer offers: a figure as a standalone page."""

import numpy as np

from maskattn import figures as F
from ui.exports import figure_html


def test_figure_html_replaces_streamlits_placeholder_template():
    figure = F.matrix_figure(np.arange(4.0).reshape(2, 2), title="x")
    figure.update_layout(template={"layout": {"paper_bgcolor": "#000038"}})
    page = figure_html(figure)
    assert "#000038" not in page
    assert F.DEFAULT_THEME.template == "plotly_white" and '"paper_bgcolor":"white"' in page.replace(" ", "")
    assert figure.layout.template.layout.paper_bgcolor == "#000038", "the figure on screen is left as it is"
