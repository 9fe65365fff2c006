"""Optimisers that touch only the rows a batch used (A.2: Adagrad; Adam for comparison).

A step receives, for one parameter tensor, the unique row ids a batch touched and the
gradient summed over the batch for each of those rows; untouched rows and their
optimiser state are left exactly as they were.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor


class RowOptimizer(Protocol):
    def step(self, name: str, rows: Tensor, grad: Tensor, lr: float, uses: Tensor | None = None) -> None:
        """Update ``rows`` (unique ids) of parameter ``name``; ``grad`` may be overwritten.
        ``uses``, when given, is how many of the batch's pairs used each row."""
        ...

    def state_dict(self) -> dict[str, Tensor]: ...

    def load_state_dict(self, state: dict[str, Tensor]) -> None: ...


class RowAdagrad:
    """Adagrad (Duchi et al., 2011), per element: G += g^2; theta -= lr * g / (sqrt(G) + eps).

    G starts at ``initial_accumulator`` (0.1, TensorFlow's default, which the paper's code
    used) rather than 0: from G = 0 the first step of every element is lr * sign(g), so a
    component with a vanishing responsibility, whose gradient is nearly 0, would still jump
    a full learning rate in a random direction.
    """

    def __init__(self, params: dict[str, Tensor], initial_accumulator: float = 0.1, eps: float = 1e-10) -> None:
        self.params = params
        self.eps = eps
        self.sum_squares = {name: torch.full_like(p, initial_accumulator) for name, p in params.items()}

    def step(self, name: str, rows: Tensor, grad: Tensor, lr: float, uses: Tensor | None = None) -> None:
        """With ``uses`` u, a row takes the u steps of its pairs' mean gradient g / u in one:
        G += u (g / u)^2 = g^2 / u, then the step of the summed gradient g.  Without, its
        batch's summed gradient is one step, G += g^2."""
        accumulated = self.sum_squares[name].index_select(0, rows)
        if uses is None:
            accumulated.addcmul_(grad, grad)
        else:
            accumulated.addcmul_(grad, grad / uses.to(grad.dtype).reshape(-1, *[1] * (grad.dim() - 1)))
        self.sum_squares[name].index_copy_(0, rows, accumulated)
        step = grad.div_(accumulated.sqrt_().add_(self.eps)).mul_(-lr)
        self.params[name].index_add_(0, rows, step)

    def state_dict(self) -> dict[str, Tensor]:
        return {f"sum_squares.{name}": t for name, t in self.sum_squares.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        for name in self.sum_squares:
            self.sum_squares[name].copy_(state[f"sum_squares.{name}"])


class RowAdam:
    """Lazy Adam (as torch.optim.SparseAdam): moments of touched rows only, bias-corrected
    with a global step count."""

    def __init__(
        self, params: dict[str, Tensor], betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.params = params
        self.betas = betas
        self.eps = eps
        self.first = {name: torch.zeros_like(p) for name, p in params.items()}
        self.second = {name: torch.zeros_like(p) for name, p in params.items()}
        self.steps = dict.fromkeys(params, 0)

    def step(self, name: str, rows: Tensor, grad: Tensor, lr: float, uses: Tensor | None = None) -> None:
        """One step of the batch's summed gradient, whatever ``uses``."""
        beta1, beta2 = self.betas
        self.steps[name] += 1
        t = self.steps[name]
        m = self.first[name].index_select(0, rows).mul_(beta1).add_(grad, alpha=1 - beta1)
        v = self.second[name].index_select(0, rows).mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        self.first[name].index_copy_(0, rows, m)
        self.second[name].index_copy_(0, rows, v)
        step_size = lr * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
        self.params[name].index_add_(0, rows, m / (v.sqrt() + self.eps), alpha=-step_size)

    def state_dict(self) -> dict[str, Tensor]:
        state = {f"first.{n}": t for n, t in self.first.items()}
        state |= {f"second.{n}": t for n, t in self.second.items()}
        state |= {f"steps.{n}": torch.tensor(s) for n, s in self.steps.items()}
        return state

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        for name in self.params:
            self.first[name].copy_(state[f"first.{name}"])
            self.second[name].copy_(state[f"second.{name}"])
            self.steps[name] = int(state[f"steps.{name}"])


def make(kind: str, params: dict[str, Tensor]) -> RowOptimizer:
    return RowAdagrad(params) if kind == "adagrad" else RowAdam(params)
