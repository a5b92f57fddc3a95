"""Fixtures shared by the dissection and ACE tests: the synthetic generator with known units and its segmenter.
Import them into a test module (`from synthetic_fixtures import gen, seg`) to use them there."""
from __future__ import annotations

import pytest

from ganfix.dissection.synthetic import BlobSegmenter, synthetic_generator


@pytest.fixture(scope="module")
def gen():
    return synthetic_generator()


@pytest.fixture(scope="module")
def seg():
    return BlobSegmenter()
