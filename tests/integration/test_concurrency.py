"""Many threads running different plans on one loaded model each get what a lone run of their plan gives.

This is how the app uses the model: one cached ``MaskedModel`` shared by every browser session. The threads
also record unmasked runs of new texts at the same time (the cache is cleared first), so incremental runs and
recordings overlap.
"""

from __future__ import annotations

import random
import threading

import torch

from maskattn import MaskPlan, rule

from .conftest import TEXT, Arch

TEXTS = [TEXT, "Masks hide keys from queries in every head.", "One more line of text to read."]


def plans(num_layers: int, num_heads: int) -> list[MaskPlan]:
    last, heads = num_layers - 1, num_heads
    return [
        MaskPlan(),
        MaskPlan((rule("all", "all", block={"keys": [1]}),)),
        MaskPlan((rule([0], [0, heads - 1], gate=0.0),)),
        MaskPlan((rule([last], [1], block={"cells": [[4, 2], [5, 2]]}),)),
        MaskPlan((rule([1], "all", allow={"preset": "sliding_window", "size": 1}),)),
        MaskPlan(
            (rule([last], "all", allow={"preset": "dilated", "stride": 2}), rule([last], [2], gate=0.5))
        ),
    ]


def test_threads_with_different_plans_get_their_own_results(arch: Arch) -> None:
    model = arch.masked
    jobs = [(text, plan) for text in TEXTS for plan in plans(model.num_layers, model.num_heads)]
    alone = {(text, plan.key()): model.run(text, plan, incremental=False) for text, plan in jobs}
    model.clear_cache()
    random.Random(0).shuffle(jobs)
    num_threads = 8
    start = threading.Barrier(num_threads)
    results: list[list] = [[] for _ in range(num_threads)]

    def work(thread: int) -> None:
        start.wait(timeout=60)  # every thread starts at once
        for index in range(thread, len(jobs), num_threads):
            text, plan = jobs[index]
            # A third of the runs go through the whole model while others replay cached layers.
            results[thread].append((text, plan, model.run(text, plan, incremental=index % 3 != 0)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(num_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    results = [r for per_thread in results for r in per_thread]

    assert len(results) == len(jobs) == 18
    for text, plan, result in results:
        want = alone[(text, plan.key())]
        assert result.plan == plan and result.tokens == want.tokens
        torch.testing.assert_close(result.attentions, want.attentions, atol=1e-6, rtol=0)
        torch.testing.assert_close(result.hidden, want.hidden, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(result.token_change, want.token_change, atol=1e-5, rtol=0)
