"""Show text that came from a user (typed text, tokens, model names, file contents quoted in an error) as
plain text inside Streamlit's Markdown. Pure: no Streamlit.

Streamlit never renders raw HTML in Markdown without ``unsafe_allow_html`` (which this app never uses), but it
does render Markdown: a token ``**`` or a model name ``[x](y)`` would turn into formatting or a link.
"""

from __future__ import annotations

import re

# CommonMark lets a backslash escape any ASCII punctuation; Streamlit adds ":red[...]" directives, "$" math.
_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def escape(text: object) -> str:
    """Return ``text`` with every Markdown special character escaped, so it shows exactly as typed."""
    return _SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def code(text: object) -> str:
    """Return ``text`` as an inline code span (shown verbatim, monospace), whatever backticks it holds."""
    text = str(text).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"{fence}{text}{fence}"
