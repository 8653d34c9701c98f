"""Progress of a long call (a batch of plans, a sweep) and how a caller cancels it.

``progress(done, total)`` is called once with ``done`` 0 before any work, then after each chunk of work;
returning ``False`` (not just a falsy None) stops the call with ``SweepCancelled``. Nothing is cached from a
cancelled call.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], bool | None]


class SweepCancelled(Exception):
    """The caller's progress callback returned False: the batch or sweep stopped before it finished."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"cancelled after {done} of {total}")
        self.done = done
        self.total = total


def report(progress: Progress | None, done: int, total: int) -> None:
    """Tell ``progress`` how far the work is; raise ``SweepCancelled`` if it answers False."""
    if progress is not None and progress(done, total) is False:
        raise SweepCancelled(done, total)
