"""Merging the ranks' models: after every span each rank's changes are added up.

The rule, for every row of every tensor, parameters and Adagrad sums alike (the README's
design notes): ``theta <- theta_0 + sum_r delta_r``, its value at the last merge plus the
changes of every rank since.  Every pair's step counts, as it does in one process (and in
the GPU kernel, whose steps are atomic additions); the steps a rank took were computed
from its own copy, which lags the other ranks' by at most a span.  The Adagrad sums then
hold what one process would have accumulated from the same gradients.  Averaging the
changes of the ranks that moved a row instead (model averaging, or local SGD) gave a
frequent word half the movement of one process, with the rates of one process's sums: on
the text8 prefix two ranks (numba, ``--preset small``) scored a similarity sum of 397.8 ±
16.8 over seeds 1-3 against 426.5 ± 6.9 for one rank, and 422.3 ± 10.3 with the sum.

A row that no rank changed needs no traffic, and with a large vocabulary most rows are
not touched by a span.  So a merge first sums, over the ranks, a per-row flag "this rank
changed the row in some table" (one small all-reduce of ``rows`` int32s); only the union
of those rows is gathered from every tensor into one flat buffer (each tensor's changes a
contiguous block), summed over the ranks in one all-reduce and written back.  When the
union is most of the vocabulary the gather and scatter cost more than they save, and the
whole tables are packed instead: the same arithmetic on every row, so both ways give the
same tables (a row outside the union has no change on any rank, so the dense rule leaves
it as it was).  Finding the union costs a pass over the tables, so after a merge that went
dense the next ones go dense without looking, for ``PROBE_EVERY`` merges: how much of the
vocabulary a span touches changes slowly over a run.

Every rank starts from the same seed, so from identical tables, and ends every merge with
identical tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from .distributed import Group

#: Above this share of the vocabulary in the union of changed rows, merge the whole tables.
SPARSE_BELOW = 0.5

#: A dense merge looks for the changed rows again after this many merges.
PROBE_EVERY = 10

#: Sums a tensor over the ranks, in place (``dist.all_reduce``; tests simulate ranks).
Reduce = Callable[[Tensor], object]


@dataclass
class MergeStats:
    """What the merges of a run cost, for the training summary."""

    merges: int = 0
    #: waiting for the slowest rank to finish its span
    wait_seconds: float = 0.0
    #: rows sent over all merges (the whole vocabulary for a dense merge)
    rows: int = 0
    sparse: int = 0


def _rows_view(tensor: Tensor) -> Tensor:
    """``[rows, everything else]``, sharing memory with ``tensor``: writes go through."""
    return tensor.view(tensor.shape[0], -1)


class ModelMerger:
    """Merges the ranks' tensors (parameters and optimiser sums, a row per word each) after
    each span (see the module notes for the rule)."""

    def __init__(self, group: Group, tensors: Sequence[Tensor], sparse_below: float = SPARSE_BELOW,
                 reduce: Reduce | None = None) -> None:
        self.group = group
        self.tensors = list(tensors)
        if len({t.shape[0] for t in self.tensors}) != 1 or len({t.dtype for t in self.tensors}) != 1 or not all(
                t.is_contiguous() for t in self.tensors):
            raise ValueError("the merged tables must be contiguous, of one dtype, with a row per word each")
        self.vocabulary = self.tensors[0].shape[0]
        self.sparse_below = sparse_below
        self.reduce: Reduce = reduce or dist.all_reduce
        self.stats = MergeStats()
        self.last_sparse = False
        self.arrived = torch.zeros(1, device=self.tensors[0].device)
        # a world of one merges nothing and needs no copy of the model
        self.snapshots = [t.clone() for t in self.tensors] if group.active else []

    def merge(self) -> None:
        if not self.group.active:
            return
        started = time.monotonic()
        self.reduce(self.arrived)  # one number: it returns once the slowest rank has come
        self._synchronize()
        self.stats.wait_seconds += time.monotonic() - started
        # finding the changed rows costs a pass over the tables: after a merge that found most
        # rows changed, the next ones go dense without looking, until the next probe
        rows = None
        if self.last_sparse or self.stats.merges % PROBE_EVERY == 0:
            rows = self._changed_rows()
            if len(rows) > self.sparse_below * self.vocabulary:
                rows = None
        self.stats.merges += 1
        self.last_sparse = rows is not None  # the same on every rank: it follows from all-reduced flags
        if rows is not None and len(rows) == 0:  # nobody changed anything
            return
        self.stats.rows += self.vocabulary if rows is None else len(rows)
        self.stats.sparse += rows is not None
        self._merge_rows(rows)
        self._synchronize()  # so that the merge is timed whole

    def _synchronize(self) -> None:
        if self.tensors[0].is_cuda:  # NCCL works on a stream
            torch.cuda.synchronize()

    def _changed_rows(self) -> Tensor:
        """The ids of the rows that some rank changed since the last merge (a host sync)."""
        changed = torch.zeros(self.vocabulary, dtype=torch.bool, device=self.tensors[0].device)
        for current, snapshot in zip(self.tensors, self.snapshots, strict=True):
            changed |= (_rows_view(current) != _rows_view(snapshot)).any(dim=1)
        ranks = changed.to(torch.int32)
        self.reduce(ranks)
        return ranks.nonzero().squeeze(1)

    def _merge_rows(self, rows: Tensor | None) -> None:
        """Merge ``rows`` of every table (``None``: all of them) in one all-reduce."""

        def take(tensor: Tensor) -> Tensor:
            return _rows_view(tensor) if rows is None else _rows_view(tensor).index_select(0, rows)

        before = [take(s) for s in self.snapshots]
        # one flat buffer: every tensor's change as a contiguous [rows, width] block
        sizes = [b.numel() for b in before]
        packed = torch.empty(sum(sizes), dtype=before[0].dtype, device=before[0].device)
        columns = [block.view(old.shape) for block, old in zip(torch.split(packed, sizes), before, strict=True)]
        for tensor, old, change in zip(self.tensors, before, columns, strict=True):
            torch.sub(take(tensor), old, out=change)
        self.reduce(packed)
        for tensor, snapshot, old, change in zip(self.tensors, self.snapshots, before, columns, strict=True):
            if rows is None:  # ``old`` is the snapshot itself
                torch.add(old, change, out=_rows_view(tensor))
                snapshot.copy_(tensor)
            else:  # ``old`` is a gathered copy
                merged = old.add_(change)
                _rows_view(tensor).index_copy_(0, rows, merged)
                _rows_view(snapshot).index_copy_(0, rows, merged)
