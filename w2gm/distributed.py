"""Several processes, one model: torch.distributed set-up, corpus shards and model averaging.

``torchrun --nproc-per-node N -m w2gm train ...`` starts N processes; each trains on its own
contiguous shard of the corpus ids with the fast single-process engine, and after every
span the ranks merge what they learnt (design notes in the README):

* parameters: each row becomes its value at the last merge plus the mean of the changes of
  the ranks that moved it, ``theta <- theta_0 + sum_r delta_r / max(1, n_row)`` with
  ``n_row`` the number of ranks whose copy of the row changed.  A word that only one rank
  saw keeps that rank's whole update (plain averaging would divide it by N); a frequent
  word gets the average of the ranks' updates, as in model averaging (local SGD).
* Adagrad sums of squared gradients: ``G <- G_0 + sum_r delta_r``, the sum a single
  process would have accumulated from all those gradients.

Every rank starts from the same seed, so from identical tables, and ends every span with
identical tables.  One all-reduce of the dense tables per span: its cost is measured in
benchmarks/distributed.py.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

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


class ModelAverager:
    """Merges the ranks' tables after each span (see the module notes for the rule)."""

    def __init__(self, group: Group, parameters: Sequence[Tensor], accumulators: Sequence[Tensor]) -> None:
        self.group = group
        self.parameters = list(parameters)
        self.accumulators = list(accumulators)
        # a world of one merges nothing and needs no copy of the model
        self.parameter_snapshots = [p.clone() for p in self.parameters] if group.active else []
        self.accumulator_snapshots = [a.clone() for a in self.accumulators] if group.active else []

    def merge(self) -> None:
        if not self.group.active:
            return
        for current, snapshot in zip(self.parameters, self.parameter_snapshots, strict=True):
            change = current - snapshot
            rows = change.flatten(1)
            moved = (rows != 0).any(dim=1).to(change.dtype)
            # one all-reduce per table: the changes with the per-row count of ranks that moved it
            packed = torch.cat([rows, moved.unsqueeze(1)], dim=1)
            dist.all_reduce(packed)
            merged = packed[:, :-1] / packed[:, -1:].clamp(min=1)
            current.copy_(snapshot + merged.view_as(current))
            snapshot.copy_(current)
        for current, snapshot in zip(self.accumulators, self.accumulator_snapshots, strict=True):
            change = current - snapshot
            dist.all_reduce(change)
            current.copy_(snapshot + change)
            snapshot.copy_(current)
        if self.parameters[0].is_cuda:  # NCCL works on a stream: wait, so that the merge is timed whole
            torch.cuda.synchronize()
