import os

import pytest
import torch

# Tests never touch the network and keep caches inside a per-session temp dir.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    """Point the project's on-disk cache (STACKGAN_CACHE) at a temp dir for the test session."""
    d = tmp_path_factory.mktemp("cache")
    old = os.environ.get("STACKGAN_CACHE")
    os.environ["STACKGAN_CACHE"] = str(d)
    yield d
    if old is None:
        os.environ.pop("STACKGAN_CACHE", None)
    else:
        os.environ["STACKGAN_CACHE"] = old


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny networks (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    one is fastest there, and a second only contends for a busy core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
