"""The pool of large result buffers: memory is handed out again only once nothing can reach it.

Pools here take blocks of any size (``min_bytes=1``), so small tensors exercise what the engine does with
72 MiB ones. Each test writes through the new tensor and reads the old holder back: reuse while something
still held the memory would show as changed numbers, whatever the pool believes.
"""

import threading
import time

import numpy as np
import pytest
import torch
import torch.utils.dlpack

from maskattn import buffers
from maskattn.buffers import BufferPool

SHAPE = (4, 8)


def pool(**kwargs) -> BufferPool:
    return BufferPool(min_bytes=1, **kwargs)


def test_reference_counts_track_tensors_on_this_python():
    # Where they do not, the pool hands out plain tensors: correct, but the speed it exists for is gone.
    assert buffers._references_track_tensors()
    assert buffers.RESULT_BUFFERS._check()


def test_memory_is_reused_once_the_tensor_is_gone():
    p = pool()
    first = p.empty(SHAPE)
    address = first.data_ptr()
    second = p.empty(SHAPE)
    assert second.data_ptr() != address
    del first
    assert p.empty(SHAPE).data_ptr() == address


def _in_inference_mode(make):
    with torch.inference_mode():
        return make()


def _storage_values(storage: torch.UntypedStorage) -> torch.Tensor:
    return torch.frombuffer(bytearray(storage.tolist()), dtype=torch.float32)


# What a caller may keep of a result, and how to read the numbers through it.
HOLDERS = {
    "a view": (lambda t: t[1:], lambda h: h),
    "a transposed view": (lambda t: t.T, lambda h: h),
    "a view made in inference mode": (lambda t: _in_inference_mode(lambda: t.view(-1)), lambda h: h),
    "its storage": (lambda t: t.untyped_storage(), _storage_values),
    "a NumPy array": (lambda t: t.numpy(), torch.from_numpy),
    "a NumPy slice": (lambda t: np.asarray(t)[2:], torch.from_numpy),
    "a tensor from that array": (lambda t: torch.from_numpy(t.numpy()), lambda h: h),
    "a DLPack capsule": (torch.utils.dlpack.to_dlpack, torch.utils.dlpack.from_dlpack),
}


@pytest.mark.parametrize(("keep", "read"), HOLDERS.values(), ids=HOLDERS.keys())
def test_memory_is_not_reused_while_anything_reaches_it(keep, read):
    p = pool()
    tensor = p.empty(SHAPE)
    tensor.fill_(1.0)
    address = tensor.data_ptr()
    held = keep(tensor)
    del tensor
    other = p.empty(SHAPE)
    other.fill_(2.0)
    assert other.data_ptr() != address
    values = read(held)
    assert torch.all(values == 1.0)
    del held, values
    assert p.empty(SHAPE).data_ptr() == address  # free at last (``other`` is still held)


def test_a_tensor_handed_out_behaves_like_torch_empty():
    p = pool()
    with torch.inference_mode():
        tensor = p.empty(SHAPE, torch.float64)
    assert not tensor.is_inference()  # a result can be changed in place after the forward
    assert tensor.shape == SHAPE and tensor.dtype == torch.float64 and tensor.is_contiguous()
    tensor.add_(1)
    for dtype in (torch.float16, torch.bfloat16, torch.int64, torch.bool):
        assert p.empty((3, 5), dtype).dtype == dtype


def test_small_and_non_cpu_tensors_are_not_pooled():
    p = BufferPool(min_bytes=1024)
    small = p.empty((2, 2))
    meta = BufferPool(min_bytes=1).empty((1024, 1024), device="meta")
    assert meta.device.type == "meta"
    del small
    assert p.idle_bytes() == 0


def test_free_blocks_beyond_the_idle_budget_are_unmapped():
    nbytes = 4 * 8 * 4
    p = pool(max_idle_bytes=2 * nbytes)
    tensors = [p.empty(SHAPE) for _ in range(5)]
    del tensors
    assert p.idle_bytes() == 5 * nbytes  # freed, not yet trimmed: that happens on the next call
    kept = p.empty(SHAPE)
    assert p.idle_bytes() <= 2 * nbytes
    kept.fill_(3.0)
    assert torch.all(kept == 3.0)


def test_a_full_pool_hands_out_untracked_tensors():
    p = pool(max_blocks=2)
    tensors = [p.empty(SHAPE) for _ in range(3)]
    for i, tensor in enumerate(tensors):
        tensor.fill_(float(i))
    assert len({t.data_ptr() for t in tensors}) == 3
    assert [float(t[0, 0]) for t in tensors] == [0.0, 1.0, 2.0]


def test_clear_unmaps_free_blocks_and_leaves_tensors_in_use_alone():
    p = pool()
    kept = p.empty(SHAPE)
    kept.fill_(5.0)
    p.empty((16, 16))  # freed at once
    p.clear()
    assert p.idle_bytes() == 0
    assert torch.all(kept == 5.0)


def test_threads_never_share_a_live_buffer():
    p = pool()
    errors = []

    def work(value: float) -> None:
        for _ in range(300):
            tensor = p.empty(SHAPE)
            tensor.fill_(value)
            time.sleep(0)  # let the others run between writing and reading
            if not torch.all(tensor == value):
                errors.append(value)

    threads = [threading.Thread(target=work, args=(float(i),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_clone_copies_into_pooled_memory(monkeypatch):
    monkeypatch.setattr(buffers.RESULT_BUFFERS, "min_bytes", 1)
    original = torch.arange(32.0).reshape(SHAPE).T  # not contiguous
    copy = buffers.clone(original)
    assert torch.equal(copy, original) and copy.is_contiguous() and copy.data_ptr() != original.data_ptr()
    original.zero_()
    assert copy.sum() == sum(range(32))  # a copy, not a view
    idle = buffers.RESULT_BUFFERS.idle_bytes()
    del copy
    assert buffers.RESULT_BUFFERS.idle_bytes() == idle + 32 * 4  # its memory was the pool's
