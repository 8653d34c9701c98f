"""maskattn: see and edit attention masks in real transformers.

Mask polarity everywhere: boolean, True = may attend.
"""

from .anatomy import ModelLoadError
from .attention import MaskedMultiheadAttention, masked_attention
from .engine import MaskedModel
from .loading import DEFAULT_MODEL_ID, from_config, load_model, pick_device
from .masks import PRESETS, Mask, make_preset, render_grid
from .plan import Block, MaskPlan, Rule, rule
from .results import Prediction, RunResult, StackView

__all__ = [
    "DEFAULT_MODEL_ID",
    "PRESETS",
    "Block",
    "Mask",
    "MaskPlan",
    "MaskedModel",
    "MaskedMultiheadAttention",
    "ModelLoadError",
    "Prediction",
    "Rule",
    "RunResult",
    "StackView",
    "from_config",
    "load_model",
    "make_preset",
    "masked_attention",
    "pick_device",
    "render_grid",
    "rule",
]

__version__ = "0.1.0"
