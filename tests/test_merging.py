"""The merge of the ranks' tables: the rule of w2gm.merging, sparse and dense alike.

Ranks are simulated by threads whose all-reduce sums the ranks' tensors in rank order, so
that every world size is deterministic; one test runs two real gloo processes."""

import threading

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from w2gm.distributed import Group
from w2gm.merging import ModelMerger

VOCAB = 40
SHAPES = [(VOCAB, 2, 3), (VOCAB, 2, 1), (VOCAB, 2)]  # means, log-variances, logits of a table


class ThreadWorld:
    """An all-reduce among ``size`` threads: each thread sums the same tensors in rank order."""

    def __init__(self, size: int) -> None:
        self.barrier = threading.Barrier(size)
        self.slots: list[torch.Tensor | None] = [None] * size

    def reduce_for(self, rank: int):
        def reduce(tensor: torch.Tensor) -> None:
            self.slots[rank] = tensor
            self.barrier.wait()
            total = self.slots[0].clone()
            for other in self.slots[1:]:
                total += other
            self.barrier.wait()  # everyone has read every slot before anyone writes its own
            tensor.copy_(total)

        return reduce


def run_ranks(world: int, rank_main) -> None:
    """``rank_main(rank)`` for every rank, each in a thread of its own, until all end."""
    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(world)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def start_tables(seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    parameters = [torch.randn(shape, generator=generator) for shape in SHAPES]
    return parameters + [torch.rand(shape, generator=generator) + 0.1 for shape in SHAPES]


def span_changes(world: int) -> list[list[torch.Tensor]]:
    """What each rank's span does to each table: rows 0-9 are moved by no rank, 10-19 by
    one rank each, 20-29 by every rank, 30-39 by every rank in one parameter only."""
    generator = torch.Generator().manual_seed(world)
    changes = []
    for rank in range(world):
        deltas = []
        for t, shape in enumerate(SHAPES + SHAPES):
            delta = torch.randn(shape, generator=generator).abs() if t >= len(SHAPES) else torch.randn(
                shape, generator=generator)
            keep = torch.zeros(VOCAB, dtype=torch.bool)
            keep[10 + rank:20:world] = True
            keep[20:30] = True
            keep[30:40] = t == 0
            deltas.append(delta * keep.view(-1, *[1] * (len(shape) - 1)))
        changes.append(deltas)
    return changes


def merged_tables(world: int, sparse_below: float, merges: int = 1) -> list[list[torch.Tensor]]:
    """Every rank's tables after ``merges`` spans of :func:`span_changes`, each merged."""
    threads_world = ThreadWorld(world)
    results: list[list[torch.Tensor]] = [[] for _ in range(world)]
    changes = span_changes(world)

    def rank_main(rank: int) -> None:
        tables = start_tables()
        merger = ModelMerger(Group(rank, world), tables[:3], tables[3:], sparse_below,
                             threads_world.reduce_for(rank))
        for _ in range(merges):
            for table, delta in zip(tables, changes[rank], strict=True):
                table += delta
            merger.merge()
        results[rank] = tables + [merger.stats]

    run_ranks(world, rank_main)
    return results


def expected_tables(world: int, merges: int = 1, start: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """The module's rule in float64, ``merges`` times from ``start`` (by default
    :func:`start_tables`): sums G <- G_0 + sum_r dG_r, and each parameter
    theta <- theta_0 + sum_r d theta_r sqrt((G_0 + dG_r) / G) with its sums G."""
    tables, changes = [t.double() for t in start or start_tables()], span_changes(world)
    count = len(SHAPES)
    for _ in range(merges):
        sums = [tables[count + t] + sum(changes[r][count + t].double() for r in range(world)) for t in range(count)]
        tables = [tables[t] + sum(changes[r][t].double() * ((tables[count + t] + changes[r][count + t].double())
                                                            / sums[t]).sqrt() for r in range(world))
                  for t in range(count)] + sums
    return tables


@pytest.mark.parametrize("world", [2, 3])
def test_sparse_and_dense_merges_give_the_rule_and_the_same_tables(world):
    sparse, dense = merged_tables(world, sparse_below=1.0), merged_tables(world, sparse_below=0.0)
    assert sparse[0][-1].sparse == 1 and sparse[0][-1].rows == 30  # rows 0-9 moved on no rank
    assert dense[0][-1].sparse == 0 and dense[0][-1].rows == VOCAB
    expected = expected_tables(world)
    start = start_tables()
    for rank in range(world):
        for t in range(len(expected)):
            assert torch.equal(sparse[rank][t], dense[rank][t])
            assert torch.equal(sparse[rank][t], sparse[0][t])  # every rank ends with the same tables
            torch.testing.assert_close(sparse[rank][t].double(), expected[t], rtol=1e-6, atol=1e-6)
            assert torch.equal(sparse[rank][t][:10], start[t][:10])  # untouched rows stay bit for bit
    # a row one rank alone moved keeps that rank's whole change (its sums saw every gradient)
    torch.testing.assert_close(sparse[0][0][10], start[0][10] + span_changes(world)[0][0][10])


def test_a_second_merge_starts_from_the_first_merge():
    """The second dense merge does not look for the changed rows (the first found too many)."""
    tables, dense = merged_tables(2, sparse_below=1.0, merges=2), merged_tables(2, sparse_below=0.0, merges=2)
    for t, expected in enumerate(expected_tables(2, merges=2)):
        torch.testing.assert_close(tables[0][t].double(), expected, rtol=1e-6, atol=1e-6)
        assert torch.equal(tables[0][t], dense[0][t]) and torch.equal(dense[0][t], dense[1][t])
    assert tables[0][-1].merges == 2 and tables[0][-1].sparse == 2 and dense[0][-1].sparse == 0


@pytest.mark.parametrize("world", [2, 4, 8])
def test_ranks_move_a_row_as_far_as_one_process_does(world):
    # One weight, a constant gradient, Adagrad from the trainer's initial sum 0.1: one
    # process taking world * n steps moves it lr sum_k 1 / sqrt(0.1 + k), about 2 lr
    # sqrt(world n); each rank taking n of them moves about 2 lr sqrt(n).  Adding the
    # ranks' moves overshoots by sqrt(world), averaging them falls short by as much; each
    # move rescaled by sqrt(its rank's sums / the merged sums) lands on one process's (within
    # 4 % at 8 ranks, from the sum's constant term; adding overshoots 1.4-2.7 times here,
    # averaging gives 0.34-0.70 of it).
    steps, lr = 200, 0.05

    def adagrad(weight: torch.Tensor, sums: torch.Tensor, count: int) -> None:
        for _ in range(count):
            sums += 1.0
            weight -= lr / sums.sqrt()

    one = (torch.zeros(1, 1), torch.full((1, 1), 0.1))
    adagrad(*one, world * steps)
    threads_world, ranks = ThreadWorld(world), [(torch.zeros(1, 1), torch.full((1, 1), 0.1)) for _ in range(world)]

    def rank_main(rank: int) -> None:
        weight, sums = ranks[rank]
        merger = ModelMerger(Group(rank, world), [weight], [sums], reduce=threads_world.reduce_for(rank))
        adagrad(weight, sums, steps)
        merger.merge()

    run_ranks(world, rank_main)
    for weight, sums in ranks:
        assert sums.item() == pytest.approx(one[1].item())
        assert weight.item() == pytest.approx(one[0].item(), rel=0.05)


@pytest.mark.parametrize("world", [2, 4])
def test_a_change_every_rank_makes_after_a_merge_counts_once(world):
    # Between spans every rank re-ties or splits its components in the same way; rebased,
    # that change stays as it is through the next merge instead of being added per rank.
    threads_world, results = ThreadWorld(world), [None] * world
    changes = span_changes(world)

    def rank_main(rank: int) -> None:
        tables = start_tables()
        merger = ModelMerger(Group(rank, world), tables[:3], tables[3:], 1.0, threads_world.reduce_for(rank))
        for table in tables:
            table.mul_(1.5)  # the same on every rank
        merger.rebase()
        for table, delta in zip(tables, changes[rank], strict=True):
            table += delta
        merger.merge()
        results[rank] = tables

    run_ranks(world, rank_main)
    # the rule applied once from the rebased tables
    for t, expected in enumerate(expected_tables(world, start=[t * 1.5 for t in start_tables()])):
        torch.testing.assert_close(results[0][t].double(), expected, rtol=1e-5, atol=1e-6)


def test_one_rank_merges_nothing():
    tables = start_tables()
    merger = ModelMerger(Group(), tables[:3], tables[3:], reduce=lambda _: pytest.fail("no all-reduce"))
    tables[0] += 1
    merger.merge()
    assert merger.stats.merges == 0 and merger.snapshots == []


def _gloo_rank(rank: int, world: int, init_file: str, queue) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    changes = span_changes(world)[rank]
    out = []
    for sparse_below in (1.0, 0.0):
        tables = start_tables()
        merger = ModelMerger(Group(rank, world), tables[:3], tables[3:], sparse_below)
        for table, delta in zip(tables, changes, strict=True):
            table += delta
        merger.merge()
        out.append([t.numpy() for t in tables])  # by value: the process ends before they are read
    queue.put((rank, out))
    dist.destroy_process_group()


def test_two_gloo_processes_merge_as_the_simulation(tmp_path):
    context = mp.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_gloo_rank, args=(r, 2, str(tmp_path / "init"), queue)) for r in range(2)]
    for process in processes:
        process.start()
    results = dict(queue.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    simulated = merged_tables(2, sparse_below=1.0)[0]
    for rank in range(2):
        for sparse, dense, expected in zip(*results[rank], simulated, strict=False):
            assert (sparse == dense).all() and (torch.from_numpy(sparse) == expected).all()
