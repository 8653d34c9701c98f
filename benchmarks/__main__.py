"""``python -m benchmarks``: run the benchmarks, print tables, write ``benchmarks/results/<name>.json``."""

from benchmarks.run import main

raise SystemExit(main())
