"""Parse what people type into widgets. Pure: no Streamlit."""

from __future__ import annotations

MAX_INDICES = 512


def parse_indices(text: str) -> list[int]:
    """Return the non-negative integers of a comma- or space-separated list; else raise ValueError."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if len(parts) > MAX_INDICES:
        raise ValueError(f"at most {MAX_INDICES} indices, got {len(parts)}")
    out = []
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 9:
            raise ValueError(f"{part!r} is not a token index: use integers from 0, such as 0, 5")
        out.append(int(part))
    return out
