"""Several processes, one model: torch.distributed set-up and corpus shards.

``torchrun --nproc-per-node N -m w2gm train ...`` starts N processes; each trains on its own
contiguous shard of the corpus ids with the fast single-process engine, and after every
span the ranks merge what they learnt (:mod:`w2gm.merging`; design notes in the README).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import W2GMError

#: Rank 0 may spend a long time reading a large corpus while the others wait for it.
SETUP_TIMEOUT = datetime.timedelta(hours=4)


@dataclass(frozen=True)
class Group:
    """This process's place among the ranks; a world of one needs no torch.distributed."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def shard(self, length: int, rank: int | None = None) -> tuple[int, int]:
        """The contiguous ``[start, stop)`` of ``range(length)`` that ``rank`` trains on."""
        rank = self.rank if rank is None else rank
        return rank * length // self.world_size, (rank + 1) * length // self.world_size

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum over the ranks of a few numbers (loss, counts, flags)."""
        if not self.active:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self._device())
        dist.all_reduce(tensor)
        return tensor.tolist()

    def share(self, value: object) -> object:
        """Rank 0's ``value``, on every rank."""
        if not self.active:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, device=self._device())
        return box[0]

    @staticmethod
    def _device() -> torch.device:
        if dist.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


def init(device_name: str) -> tuple[Group, str]:
    """Join the process group that torchrun describes in the environment (``WORLD_SIZE``,
    ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``...), with NCCL when the ranks train on GPUs
    and gloo otherwise; outside torchrun, a world of one.  Returns the group and the
    device this rank trains on (``cuda:LOCAL_RANK`` on GPUs)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Group(), device_name
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    wants_gpu = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if wants_gpu:
        if not torch.cuda.is_available():
            raise W2GMError("--device cuda: no CUDA GPU is available to PyTorch here")
        if local_rank >= torch.cuda.device_count():
            raise W2GMError(
                f"rank {rank}: local rank {local_rank} but only {torch.cuda.device_count()} GPU(s) on this host; "
                "start at most one process per GPU"
            )
        torch.cuda.set_device(local_rank)
        device_name = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if wants_gpu else "gloo", timeout=SETUP_TIMEOUT)
    return Group(rank, world_size, local_rank), device_name


def finish(group: Group) -> None:
    if group.active and dist.is_initialized():
        dist.destroy_process_group()

