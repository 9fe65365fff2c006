"""Which engine trains: the Triton kernel only where its models were measured sound."""

import importlib.util

import pytest
import torch

from w2gm.config import TrainConfig
from w2gm.engines import TRITON_MAX_COMPONENTS, resolve_backend
from w2gm.errors import W2GMError

GPU = torch.device("cuda")  # resolve_backend reads the device's type only


def test_a_gpu_trains_more_components_than_the_kernel_handles_with_the_reference_engine():
    has_triton = importlib.util.find_spec("triton") is not None
    fitting = TrainConfig(components=TRITON_MAX_COMPONENTS)
    assert resolve_backend(fitting, GPU) == ("triton" if has_triton else "torch")
    assert resolve_backend(TrainConfig(components=TRITON_MAX_COMPONENTS + 1), GPU) == "torch"
    assert resolve_backend(TrainConfig(components=TRITON_MAX_COMPONENTS + 1), torch.device("cpu")) == "numba"


def test_asking_the_kernel_for_more_components_is_refused_in_one_line():
    config = TrainConfig(components=TRITON_MAX_COMPONENTS + 1, backend="triton")
    with pytest.raises(W2GMError, match=f"K = {TRITON_MAX_COMPONENTS + 1}") as error:
        resolve_backend(config, GPU)
    assert "\n" not in str(error.value)
