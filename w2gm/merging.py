"""Merging the ranks' models: after every span the ranks' changes are added up, each at the
rates one process would have used.

The rule, for every row of every table (the README's design notes), elementwise:

* Adagrad sums: ``G <- G_0 + sum_r dG_r``, what one process would have accumulated from
  every rank's gradients;
* parameters: ``theta <- theta_0 + sum_r d theta_r sqrt((G_0 + dG_r) / G)``, with G the
  parameter's merged sums.  Rank r took its steps lr g / sqrt(G) with its own sums, which
  lacked the other ranks' gradients; the factor gives its change the denominator one
  process would have had by the end of the span.  With a constant gradient, one process
  moves a weight about 2 lr sqrt(N n) in N n steps and each of N ranks 2 lr sqrt(n) in n:
  adding the ranks' changes overshoots by sqrt(N), averaging them (model averaging, or
  local SGD: this module's first rule) falls short by as much, and the rescaled sum lands
  on one process's (tests/test_merging.py).  A row that one rank alone moved keeps that
  rank's whole change, as its sums saw every gradient.

Changes that every rank makes alike between spans (re-tying or splitting components) are
no rank's learning: :meth:`ModelMerger.rebase` takes them as the next merge's start.

A row that no rank changed needs no traffic, and with a large vocabulary most rows are
not touched by a span.  So a merge first sums, over the ranks, a per-row flag "this rank
changed the row in some table" (one small all-reduce of ``rows`` int32s); only the union
of those rows is gathered from every tensor into one flat buffer (each tensor's changes a
contiguous block), summed over the ranks in two all-reduces (the sums first, then the
rescaled parameter changes) and written back.  When the union is most of the vocabulary
the gather and scatter cost more than they save, and the whole tables are packed instead:
the same arithmetic on every row, so both ways give the same tables (a row outside the
union has no change on any rank, so the dense rule leaves it as it was).  Finding the union
costs a pass over the tables, so after a merge that went dense the next ones go dense
without looking, for ``PROBE_EVERY`` merges: how much of the vocabulary a span touches
changes slowly over a run.

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
    """Merges the ranks' parameters and their Adagrad sums (``sums[i]`` those of
    ``parameters[i]``, a row per word each) after each span (see the module notes for the rule)."""

    def __init__(self, group: Group, parameters: Sequence[Tensor], sums: Sequence[Tensor],
                 sparse_below: float = SPARSE_BELOW, reduce: Reduce | None = None) -> None:
        self.group = group
        self.parameters, self.sums = list(parameters), list(sums)
        self.tensors = self.parameters + self.sums
        self.stats = MergeStats()
        self.snapshots: list[Tensor] = []
        if not group.active:  # a world of one merges nothing and needs no copy of the model
            return
        if len({t.shape[0] for t in self.tensors}) != 1 or len({t.dtype for t in self.tensors}) != 1 or not all(
                t.is_contiguous() for t in self.tensors) or [p.shape for p in parameters] != [g.shape for g in sums]:
            raise ValueError("the merged tables must be contiguous, of one dtype, with a row per word each, "
                             "and a sum of the parameter's shape for each parameter")
        self.vocabulary = self.tensors[0].shape[0]
        self.sparse_below = sparse_below
        self.reduce: Reduce = reduce or dist.all_reduce
        self.last_sparse = False
        self.arrived = torch.zeros(1, device=self.tensors[0].device)
        self.snapshots = [t.clone() for t in self.tensors]

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

    def rebase(self) -> None:
        """Take the tables as they are now as the start of the next merge: every rank changed
        them in the same way since the last one (re-tied or split its components), which is
        no rank's learning.  Counted as changes, they were added once per rank: re-tying the
        Adagrad sums r times over turned a drift d between copies into -(r - 1) d at every
        span, which grew until the sums went negative and training ended in NaN (4 ranks),
        and a split went r times as far."""
        if not self.group.active:
            return
        for snapshot, tensor in zip(self.snapshots, self.tensors, strict=True):
            snapshot.copy_(tensor)

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
        """Merge ``rows`` of every table (``None``: all of them) in two all-reduces, sums first."""

        def take(tensor: Tensor) -> Tensor:
            return _rows_view(tensor) if rows is None else _rows_view(tensor).index_select(0, rows)

        before = [take(s) for s in self.snapshots]
        # one flat buffer: every tensor's change as a contiguous [rows, width] block, the
        # parameters' first, then the sums'
        sizes = [b.numel() for b in before]
        packed = torch.empty(sum(sizes), dtype=before[0].dtype, device=before[0].device)
        columns = [block.view(old.shape) for block, old in zip(torch.split(packed, sizes), before, strict=True)]
        current = [take(t) for t in self.tensors]
        for now, old, change in zip(current, before, columns, strict=True):
            torch.sub(now, old, out=change)
        count = len(self.parameters)
        own_sums = current[count:]  # G_0 + dG_r, this rank's own
        split = sum(sizes[:count])
        self.reduce(packed[split:])  # first the sums: G_0 + sum_r dG_r
        for change, own, old, added in zip(columns[:count], own_sums, before[count:], columns[count:], strict=True):
            total = old + added
            change.mul_(torch.where(total > 0, own / total, 1.0).sqrt_())
        self.reduce(packed[:split])
        for tensor, snapshot, old, change in zip(self.tensors, self.snapshots, before, columns, strict=True):
            if rows is None:  # ``old`` is the snapshot itself
                torch.add(old, change, out=_rows_view(tensor))
                snapshot.copy_(tensor)
            else:  # ``old`` is a gathered copy
                merged = old.add_(change)
                _rows_view(tensor).index_copy_(0, rows, merged)
                _rows_view(snapshot).index_copy_(0, rows, merged)
