"""Which engine trains: ``--backend auto`` takes the fastest one that runs here, and a
named engine that cannot run is refused in one line."""

import importlib.util

import pytest
import torch

from w2gm.config import TrainConfig
from w2gm.engines import resolve_backend
from w2gm.errors import W2GMError

GPU = torch.device("cuda")  # resolve_backend reads the device's type only
CPU = torch.device("cpu")


@pytest.mark.parametrize("components", [1, 2, 3, 4])
def test_auto_takes_the_compiled_engine_of_the_device_for_any_k(components):
    # the Triton kernel once trained K > 2 badly and auto avoided it there; since its
    # updates are atomic additions (triton_update._adagrad) every K takes it
    has_triton = importlib.util.find_spec("triton") is not None
    assert resolve_backend(TrainConfig(components=components), GPU) == ("triton" if has_triton else "torch")
    assert resolve_backend(TrainConfig(components=components), CPU) == "numba"


def test_auto_takes_the_reference_engine_for_optimisers_the_kernels_lack():
    for device in (GPU, CPU):
        assert resolve_backend(TrainConfig(optimizer="adam"), device) == "torch"


@pytest.mark.parametrize(("config", "device", "message"), [
    (TrainConfig(backend="triton"), CPU, "runs on cuda"),
    (TrainConfig(backend="numba"), GPU, "runs on cpu"),
    (TrainConfig(backend="numba", optimizer="adam"), CPU, "Adagrad only"),
])
def test_an_engine_that_cannot_run_is_refused_in_one_line(config, device, message):
    with pytest.raises(W2GMError, match=message) as error:
        resolve_backend(config, device)
    assert "\n" not in str(error.value)
