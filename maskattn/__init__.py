"""maskattn: see and edit attention masks in real transformers.

Mask polarity everywhere: boolean, True = may attend.
"""

from .anatomy import ModelLoadError
from .attention import MaskedMultiheadAttention, masked_attention
from .engine import MaskedModel
from .head_types import HeadTypes, model_head_types, probe_text, score_heads
from .loading import DEFAULT_MODEL_ID, from_config, load_model, pick_device
from .masks import PRESETS, Mask, make_preset, render_grid
from .metrics import Metric, embedding_distance, kl_at, logit_difference
from .plan import Block, MaskPlan, Rule, rule
from .progress import SweepCancelled
from .results import Prediction, RunResult, StackView
from .sweeps import Cell, SweepResult, attention_knockout, head_importance, preset_sweep

__all__ = [
    "DEFAULT_MODEL_ID",
    "PRESETS",
    "Block",
    "Cell",
    "HeadTypes",
    "Mask",
    "MaskPlan",
    "MaskedModel",
    "MaskedMultiheadAttention",
    "Metric",
    "ModelLoadError",
    "Prediction",
    "Rule",
    "RunResult",
    "StackView",
    "SweepCancelled",
    "SweepResult",
    "attention_knockout",
    "embedding_distance",
    "from_config",
    "head_importance",
    "kl_at",
    "load_model",
    "logit_difference",
    "make_preset",
    "masked_attention",
    "model_head_types",
    "pick_device",
    "preset_sweep",
    "probe_text",
    "render_grid",
    "rule",
    "score_heads",
]

__version__ = "0.1.0"
