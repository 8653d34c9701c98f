"""maskattn benchmarks: forward cost against Hugging Face, figure payloads, browser edit latency, peak memory.

Run ``python -m benchmarks`` (``--quick`` for a short run); see ``benchmarks/README.md``.
"""
