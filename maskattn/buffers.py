"""Memory for large CPU results, kept between runs: ``RESULT_BUFFERS.empty(shape, dtype, device)``.

A run at length hands back big tensors: MiniLM's (L, H, T, T) attentions at T = 512 are 72 MiB. glibc serves
any block over 32 MiB (where its mmap threshold stops rising) with fresh pages from the kernel on every
allocation, and first touching fresh pages is slow: 26 ms for those 72 MiB on a 2-core VM (a quarter of the
whole run), against 2.5 ms for writing memory already mapped. So blocks that large come from this pool.

A pooled block is an anonymous ``mmap`` that tensors see through ``torch.frombuffer``. Every tensor, view,
storage or NumPy array on that memory keeps alive the one storage ``frombuffer`` made; that storage holds a
``Py_buffer`` on the mmap, and a ``Py_buffer`` holds a reference to its exporter. So the mmap has more
references than the pool's own exactly while something can still read or write the memory, and a block is
handed out again only once it has no more: a caller never sees a result change under it. Smaller blocks, and
other devices (CUDA has its own caching allocator), get ``torch.empty``.
"""

from __future__ import annotations

import mmap
import sys
import threading

import torch

# glibc's largest mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): its heap reuses smaller blocks.
POOLED_MIN_BYTES = 32 * 2**20
# Free blocks kept for reuse beyond this are unmapped, least recently used first.
MAX_IDLE_BYTES = 1 * 2**30
MAX_BLOCKS = 32  # blocks tracked at once (free or in use); more are plain allocations


class _Block:
    """One anonymous mapping of ``nbytes`` and how many references it has when nothing uses it."""

    def __init__(self, nbytes: int) -> None:
        self.memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.nbytes = nbytes
        # Counted here, with nothing exported yet, by the same call ``in_use`` makes: whatever this Python
        # counts for its own argument cancels out.
        self.free_references = self._references()

    def _references(self) -> int:
        return sys.getrefcount(self.memory)

    @property
    def in_use(self) -> bool:
        """Whether some tensor, storage or array still reaches this memory."""
        return self._references() > self.free_references

    def tensor(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """Return a new tensor of ``shape`` on this memory (a normal tensor, even inside inference mode)."""
        with torch.inference_mode(False):
            flat = torch.frombuffer(self.memory, dtype=dtype, count=self.nbytes // dtype.itemsize)
            return flat.view(shape)

    def close(self) -> None:
        self.memory.close()


def _references_track_tensors() -> bool:
    """Return whether a block's reference count rises while a tensor on it lives, and falls back after."""
    block = _Block(4096)
    before = block.in_use
    tensor = block.tensor((2, 512), torch.float32)
    view = tensor[1]
    del tensor
    held = block.in_use
    del view
    after = block.in_use
    block.close()
    return (before, held, after) == (False, True, False)


class BufferPool:
    """Hands out CPU tensors whose memory is reused once nothing refers to the tensor handed out before.

    ``empty`` behaves like ``torch.empty`` (contents undefined, a normal tensor even inside inference mode);
    its tensors cannot be resized in place, like those ``torch.from_numpy`` gives. Where this Python's
    reference counts do not show that a tensor lives (checked once, on a small block), nothing is pooled.
    """

    def __init__(
        self,
        min_bytes: int = POOLED_MIN_BYTES,
        max_idle_bytes: int = MAX_IDLE_BYTES,
        max_blocks: int = MAX_BLOCKS,
    ) -> None:
        self.min_bytes = min_bytes
        self.max_idle_bytes = max_idle_bytes
        self.max_blocks = max_blocks
        self._blocks: list[_Block] = []  # least recently handed out first
        self._lock = threading.Lock()
        self._works: bool | None = None  # whether reference counts track tensors (checked at first use)

    def empty(
        self,
        shape: tuple[int, ...],
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Return an uninitialised tensor of ``shape``; on the CPU and large, on memory used before."""
        device = torch.device(device or "cpu")
        nbytes = torch.Size(shape).numel() * dtype.itemsize
        if device.type != "cpu" or nbytes < self.min_bytes or not self._check():
            with torch.inference_mode(False):
                return torch.empty(shape, dtype=dtype, device=device)
        with self._lock:
            block = next((b for b in reversed(self._blocks) if b.nbytes == nbytes and not b.in_use), None)
            if block is not None:
                self._blocks.remove(block)  # to the end: most recently handed out
            else:
                block = _Block(nbytes)
                if len(self._blocks) >= self.max_blocks and not self._drop_oldest_free():
                    # Every tracked block is in use: this one is not tracked (unmapped with its tensor).
                    return block.tensor(shape, dtype)
            self._blocks.append(block)
            tensor = block.tensor(shape, dtype)
            while self._idle() > self.max_idle_bytes and self._drop_oldest_free():
                pass
            return tensor

    def idle_bytes(self) -> int:
        """Return how many bytes the pool keeps mapped that nothing uses now."""
        with self._lock:
            return self._idle()

    def clear(self) -> None:
        """Unmap every free block (blocks in use stay with their tensors, untracked from now on)."""
        with self._lock:
            while self._drop_oldest_free():
                pass
            self._blocks.clear()

    def _check(self) -> bool:
        if self._works is None:
            self._works = _references_track_tensors()
        return self._works

    def _idle(self) -> int:
        return sum(b.nbytes for b in self._blocks if not b.in_use)

    def _drop_oldest_free(self) -> bool:
        """Unmap the least recently handed out free block; return False when every block is in use."""
        block = next((b for b in self._blocks if not b.in_use), None)
        if block is None:
            return False
        self._blocks.remove(block)
        block.close()
        return True


RESULT_BUFFERS = BufferPool()


def empty(shape: tuple[int, ...], dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Return ``RESULT_BUFFERS.empty(shape, dtype, device)``: what the engine allocates its results with."""
    return RESULT_BUFFERS.empty(shape, dtype, device)


def clone(tensor: torch.Tensor) -> torch.Tensor:
    """Return a copy of ``tensor`` (contiguous) on memory from ``RESULT_BUFFERS``."""
    return empty(tuple(tensor.shape), tensor.dtype, tensor.device).copy_(tensor)
