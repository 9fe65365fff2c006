import os

import torch

# trio (pulled in by selenium for the browser test) registers a Hypothesis entry point that
# some trio releases cannot load; w2gm's property tests need no Hypothesis plugins.
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")

# Without a GPU the Triton kernels run in Triton's interpreter, on CPU tensors.  Triton reads
# this when it first decorates a kernel, so it must be set before anything imports triton.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def pytest_collection_modifyitems(items: list) -> None:
    """The torchrun tests last: their ranks then load the compiled numba kernels that
    test_train leaves in numba's cache, where on a fresh checkout each rank would spend
    some 25 s compiling them for itself."""
    items.sort(key=lambda item: item.path.name == "test_distributed.py")
