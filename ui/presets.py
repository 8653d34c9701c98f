"""What the Explorer calls each mask preset, its help, and the bounds its inputs show. Pure: no Streamlit.

``maskattn.masks.PRESETS`` holds what a preset is (its name, parameters, defaults and the bounds its factory
accepts); the words on screen and the widgets' ranges are the front end's, here. The Mask Lab's translated
names are in ``ui.lessons`` (``preset.<name>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from maskattn.masks import Param

from . import limits


@dataclass(frozen=True)
class PresetWords:
    """A preset's label and one-line description, and help for some of its parameters."""

    label: str
    description: str
    param_help: dict[str, str] = field(default_factory=dict)


WORDS: dict[str, PresetWords] = {
    "full": PresetWords("None (full)", "Every query attends to every key."),
    "causal": PresetWords("Causal", "A query sees itself and earlier keys (decoders)."),
    "sliding_window": PresetWords(
        "Sliding window",
        "Keys within `size` positions of the query.",
        {"size": "positions on each side", "two_sided": "off: only earlier keys"},
    ),
    "dilated": PresetWords("Dilated / strided", "Keys at distances that are multiples of `stride`."),
    "prefix_lm": PresetWords("Prefix-LM", "The prefix is seen by all; the rest is causal."),
    "block_diagonal": PresetWords(
        "Block-diagonal",
        "Packed segments attend only within themselves.",
        {"boundaries": "token indices where a new segment starts"},
    ),
    "global_tokens": PresetWords(
        "Global tokens",
        "These tokens see and are seen by all; the rest follows the other masks.",
        {"indices": "e.g. [CLS] is 0"},
    ),
    "padding": PresetWords("Padding", "Only the first `length` keys are real tokens."),
    "random": PresetWords("Random", "Each pair allowed with probability `density` (reproducible by seed)."),
}
SEED_MAXIMUM = 2**31 - 1  # a number input needs a top; any 31-bit seed is plenty


def label(name: str) -> str:
    return WORDS[name].label


def description(name: str) -> str:
    return WORDS[name].description


def param_help(preset: str, param: str) -> str:
    return WORDS[preset].param_help.get(param, "")


def input_bounds(param: Param) -> tuple[float, float]:
    """Return the range an input for ``param`` offers: the factory's, a position at most the longest text."""
    if param.kind == "float":
        return float(param.minimum), float(param.maximum)
    top = SEED_MAXIMUM if param.name == "seed" else limits.LIMITS.max_tokens
    return param.minimum, min(top, param.maximum) if param.maximum is not None else top
