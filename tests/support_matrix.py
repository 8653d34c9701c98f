"""The README's support matrix, made from the zoo: what maskattn does with each architecture when it loads.

``python -m tests.support_matrix`` rewrites the table in README.md. ``test_architectures.py`` fails when the
README's table is not what this module makes, and proves every "exact" row against HF eager.
"""

from __future__ import annotations

import sys
from pathlib import Path

from maskattn import ModelLoadError, from_config
from tests.tiny_models import EXACT, ZOO, TinyArch, config_of, transformers_at_least

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- support-matrix:start -->", "<!-- support-matrix:end -->"


def verdict(arch: TinyArch, tokenizer) -> str:
    """Return "exact" when the architecture loads under maskattn, else its refusal's reason."""
    try:
        model = from_config(config_of(arch, tokenizer), tokenizer, name=arch.name)
    except ModelLoadError as err:
        reason = str(err).split(" ", 2)[2]  # drop "ClassName (model_type) "
        return "refused: " + reason.removesuffix(": maskattn cannot mask it, so it is refused")
    stacks = ", ".join(model.stacks)
    return f"{EXACT} ({stacks})"


def cell(arch: TinyArch, tokenizer) -> str:
    """Return the verdict cell: the installed transformers' verdict, and the other one where it changed."""
    found = verdict(arch, tokenizer)
    if arch.by_version is None:
        return found
    version, before, since = arch.by_version
    before, since = (before, found) if transformers_at_least(version) else (found, since)
    return f"transformers < {version}: {before}; ≥ {version}: {since}"


def table(tokenizer) -> str:
    """Return the Markdown table of every architecture in the zoo with its verdict."""
    rows = ["| architecture | class tested | family | what is special | maskattn |", "|---|---|---|---|---|"]
    for arch in ZOO:
        rows.append(
            f"| `{arch.model_type}` | `{arch.architecture}` | {arch.family} | {arch.notes or '–'} "
            f"| {cell(arch, tokenizer)} |"
        )
    return "\n".join(rows)


def readme_table() -> str:
    """Return the table between the markers in README.md."""
    text = README.read_text()
    return text[text.index(START) + len(START) : text.index(END)].strip()


def write(tokenizer) -> None:
    text = README.read_text()
    before, after = text[: text.index(START) + len(START)], text[text.index(END) :]
    README.write_text(f"{before}\n{table(tokenizer)}\n{after}")


if __name__ == "__main__":
    from transformers import AutoTokenizer

    from maskattn.loading import default_model_path

    write(AutoTokenizer.from_pretrained(default_model_path()))
    print(f"wrote the support matrix ({len(ZOO)} architectures) into {README}", file=sys.stderr)
