"""The app state that travels in a link: text, model, plan, focus. Pure: no Streamlit."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field

from maskattn import DEFAULT_MODEL_ID, MaskPlan
from maskattn.plan import PlanLimits

from . import limits

MAX_MODEL_NAME_CHARS = 1024  # as maskattn.load_model: longer is no hub id, nor a folder a system can open
MAX_FOCUS_DIGITS = 6
MAX_NAME_CHARS = 40  # a tab's or a view's name in a link
LINK_PARAMS = ("text", "model", "plan", "focus", "tab", "view")  # the Explorer's; other pages drop them


@dataclass(frozen=True)
class SharedState:
    """What a teacher's link restores."""

    text: str
    model: str = DEFAULT_MODEL_ID
    plan: MaskPlan = field(default_factory=MaskPlan)
    focus: tuple[int, int] = (0, 0)
    tab: str = ""  # the open tab's id ("" = the first tab); the page knows its tabs
    view: str = ""  # the before/after view's id ("" = the default view)


def plan_limits() -> PlanLimits:
    """Return the bounds on a plan from a browser: the server's plan size, token indices under its limit."""
    return PlanLimits(max_token=limits.LIMITS.max_tokens - 1, max_json_chars=limits.LIMITS.max_plan_bytes)


def _valid_text(text: str) -> str:
    """Return ``text`` with any lone surrogate (not valid Unicode, unsendable to a browser) replaced by �."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def pack_plan(plan: MaskPlan) -> str:
    """Return the plan as compact, URL-safe text (zlib + base64)."""
    raw = json.dumps(plan.to_dict(), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def unpack_plan(packed: str) -> MaskPlan:
    """Return the plan packed by ``pack_plan``; anything malformed raises ValueError."""
    # zlib never grows a plan by more than a few bytes, base64 by a third: a longer link holds no valid plan.
    if len(packed) > 2 * limits.LIMITS.max_plan_bytes:
        raise ValueError(f"the plan in the link is larger than {limits.LIMITS.max_plan_bytes // 1000} kB")
    try:
        data = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        raw = zlib.decompressobj().decompress(data, limits.LIMITS.max_plan_bytes + 1)
    except (ValueError, zlib.error) as err:
        raise ValueError(f"the plan in the link is damaged ({err})") from None
    if len(raw) > limits.LIMITS.max_plan_bytes:
        raise ValueError(f"the plan in the link is larger than {limits.LIMITS.max_plan_bytes // 1000} kB")
    return MaskPlan.from_json(raw, plan_limits())


def to_query_params(state: SharedState) -> dict[str, str]:
    """Return the URL query parameters of ``state`` (defaults left out to keep links short)."""
    params = {"text": state.text, "focus": f"{state.focus[0]}.{state.focus[1]}"}
    if state.model != DEFAULT_MODEL_ID:
        params["model"] = state.model
    if state.plan:
        params["plan"] = pack_plan(state.plan)
    if state.tab:
        params["tab"] = state.tab
    if state.view:
        params["view"] = state.view
    return params


def from_query_params(params: dict[str, str], default_text: str) -> tuple[SharedState, list[str]]:
    """Return the state a link describes and the problems found (bad parts fall back to defaults)."""
    problems = []
    text = params.get("text", default_text)
    if len(text) > limits.LIMITS.max_text_chars:
        problems.append(
            f"the text's last {len(text) - limits.LIMITS.max_text_chars} character(s), past this server's "
            f"limit of {limits.LIMITS.max_text_chars}"
        )
    text = _valid_text(text[: limits.LIMITS.max_text_chars]) or default_text
    model = params.get("model", DEFAULT_MODEL_ID).strip() or DEFAULT_MODEL_ID
    if model != DEFAULT_MODEL_ID and not limits.LIMITS.allow_custom_models:
        problems.append(f"the model {model[:80]!r} (this server serves only the bundled model)")
        model = DEFAULT_MODEL_ID
    elif len(model) > MAX_MODEL_NAME_CHARS or not model.isprintable() or _valid_text(model) != model:
        shown = repr(model[:60]) + ("…" if len(model) > 60 else "")
        problems.append(f"the model {shown} (not a hub id or folder: too long, or not printable text)")
        model = DEFAULT_MODEL_ID
    plan = MaskPlan()
    if params.get("plan"):
        try:
            plan = unpack_plan(params["plan"])
        except ValueError as err:
            problems.append(str(err))
    focus = (0, 0)
    if params.get("focus"):
        try:
            parts = params["focus"].split(".")
            if len(parts) != 2 or not all(
                p.isascii() and p.isdigit() and len(p) <= MAX_FOCUS_DIGITS for p in parts
            ):
                raise ValueError
            focus = (int(parts[0]), int(parts[1]))
        except ValueError:
            problems.append(f"the focus {params['focus'][:40]!r} in the link is not 'layer.head'")
    names = {}
    for name in ("tab", "view"):
        value = params.get(name, "")
        if value and not (len(value) <= MAX_NAME_CHARS and value.isascii() and value.isalnum()):
            problems.append(f"the {name} {value[:40]!r} in the link is not a {name} name")
            value = ""
        names[name] = value
    return SharedState(text, model, plan, focus, **names), problems


def read_plan_file(data: bytes) -> MaskPlan:
    """Return the plan in an uploaded JSON file; too large, not UTF-8 or invalid raises ValueError."""
    limit = limits.LIMITS.max_plan_bytes
    if len(data) > limit:
        raise ValueError(f"the plan file is larger than the limit of {limit // 1000} kB ({len(data)} bytes)")
    return MaskPlan.from_json(data, plan_limits())
