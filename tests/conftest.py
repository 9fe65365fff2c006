import os

import torch

# trio (pulled in by selenium for the browser test) registers a Hypothesis entry point that
# some trio releases cannot load; w2gm's property tests need no Hypothesis plugins.
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")

# Without a GPU the Triton kernels run in Triton's interpreter, on CPU tensors.  Triton reads
# this when it first decorates a kernel, so it must be set before anything imports triton.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
