"""Texts of an exact token count, so every benchmark row says precisely which T it measured."""

from __future__ import annotations

from typing import Any

# Plain English words; the ones a tokenizer splits into several pieces are dropped per tokenizer.
_SENTENCE = (
    "the cat sat on the mat because it was tired and the dog slept by the door while rain fell on the old "
    "house near the river where children played games after school every day until their parents called "
    "them home for dinner which was always warm and good"
)
WORDS: tuple[str, ...] = tuple(_SENTENCE.split(" "))


def count_tokens(tokenizer: Any, text: str) -> int:
    """Return how many tokens ``text`` has, special tokens included (what ``MaskedModel.tokenize`` gives)."""
    return len(tokenizer(text, add_special_tokens=True)["input_ids"])


def text_of_tokens(tokenizer: Any, num_tokens: int, start: int = 0) -> str:
    """Return an English-like text of exactly ``num_tokens`` tokens for ``tokenizer``, specials included.

    Words are taken in turn from a fixed list, from word ``start`` on (another ``start`` gives another text of
    the same length), keeping only words that are one token for this tokenizer, so the count is exact; it is
    checked before returning.
    """
    specials = count_tokens(tokenizer, "the") - 1
    single = {w for w in WORDS if count_tokens(tokenizer, w) - specials == 1}
    order = [w for w in WORDS if w in single]
    if not order:
        raise ValueError("no single-token word found for this tokenizer")
    wanted = num_tokens - specials
    if wanted < 1:
        raise ValueError(
            f"num_tokens must leave room for a word after {specials} special tokens, got {num_tokens}"
        )
    text = " ".join(order[(start + i) % len(order)] for i in range(wanted))
    got = count_tokens(tokenizer, text)
    if got != num_tokens:
        raise ValueError(f"built a text of {got} tokens, wanted {num_tokens}")
    return text
