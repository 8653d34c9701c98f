"""Small Streamlit widgets shared by pages: preset parameter inputs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from maskattn.masks import Preset

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
        if param.kind == "int":
            values[param.name] = int(
                st.number_input(
                    label,
                    int(param.minimum),
                    int(param.maximum),
                    int(param.default),
                    key=key,
                    help=param.help or None,
                )
            )
        elif param.kind == "float":
            values[param.name] = float(
                st.slider(
                    label,
                    float(param.minimum),
                    float(param.maximum),
                    float(param.default),
                    0.05,
                    key=key,
                    help=param.help or None,
                )
            )
        elif param.kind == "bool":
            values[param.name] = st.checkbox(label, bool(param.default), key=key, help=param.help or None)
        elif param.kind == "indices":
            text = st.text_input(
                label,
                ", ".join(map(str, param.default)),
                key=key,
                help=(param.help + " · " if param.help else "") + "comma-separated, e.g. 0, 5",
            )
            try:
                values[param.name] = parse_indices(text)
            except ValueError as err:
                st.error(str(err))
                valid = False
        else:
            raise ValueError(f"unknown parameter kind {param.kind!r}")
    return values if valid else None
