"""The tiny data that the subprocess trainings of tests/train read (``TINY_EXAMPLES`` of the module asking)."""
import pytest
from train_data import write_tiny


@pytest.fixture(scope="module")
def data(tmp_path_factory, request):
    return write_tiny(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]),
                      request.module.TINY_EXAMPLES)
