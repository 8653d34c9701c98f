"""Shared fixtures for every test suite: keep them generic and small."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Seed torch's global generator before each test, so random inputs are the same on every run."""
    torch.manual_seed(0)
