"""Fixtures for every test."""
import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def one_thread():
    """Small LSTMs train several times faster on one thread than on two contended ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Token caches (lstmkit.data.tokens) in a folder of the test session's, never the user's ~/.cache."""
    import os

    old = os.environ.get("LSTMKIT_CACHE")
    os.environ["LSTMKIT_CACHE"] = str(tmp_path_factory.mktemp("lstmkit-cache"))
    yield
    if old is None:
        os.environ.pop("LSTMKIT_CACHE", None)
    else:
        os.environ["LSTMKIT_CACHE"] = old
