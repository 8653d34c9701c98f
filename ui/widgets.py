"""Small Streamlit widgets shared by pages: preset parameter inputs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from maskattn.masks import Preset

from . import presets
from .parsing import parse_indices


def preset_params(preset: Preset, *, key_prefix: str) -> dict[str, Any] | None:
    """Draw one input per parameter of ``preset`` and return the chosen values.

    None when an input is invalid (its error is shown next to it).
    """
    values: dict[str, Any] = {}
    valid = True
    for param in preset.params:
        key = f"{key_prefix}_{preset.name}_{param.name}"
        label = param.name.replace("_", " ")
        help_text = presets.param_help(preset.name, param.name)
        if param.kind == "int":
            low, high = presets.input_bounds(param)
            values[param.name] = int(
                st.number_input(
                    label,
                    int(low),
                    int(high),
                    min(int(param.default), int(high)),
                    key=key,
                    help=help_text or None,
                )
            )
        elif param.kind == "float":
            low, high = presets.input_bounds(param)
            values[param.name] = float(
                st.slider(label, low, high, float(param.default), 0.05, key=key, help=help_text or None)
            )
        elif param.kind == "bool":
            values[param.name] = st.checkbox(label, bool(param.default), key=key, help=help_text or None)
        elif param.kind == "indices":
            text = st.text_input(
                label,
                ", ".join(map(str, param.default)),
                key=key,
                help=(help_text + " · " if help_text else "") + "comma-separated, e.g. 0, 5",
            )
            try:
                values[param.name] = parse_indices(text)
            except ValueError as err:
                st.error(str(err))
                valid = False
        else:
            raise ValueError(f"unknown parameter kind {param.kind!r}")
    return values if valid else None
