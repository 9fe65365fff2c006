"""Gaussian-mixture parameters of a vocabulary, in the unconstrained form that is optimised.

Each word has K components.  Following A.2 the optimiser sees

* ``means``          ``[V, K, D]``   mean vectors mu_{w,i}
* ``log_variances``  ``[V, K, C]``   log of the covariance diagonal (C = 1 spherical, C = D diagonal)
* ``logits``         ``[V, K]``      mixture scores s_i, with p_i = softmax(s)_i

so variances stay positive and weights stay on the simplex whatever the update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

Covariance = Literal["spherical", "diagonal"]
PARAMETER_NAMES = ("means", "log_variances", "logits")


@dataclass
class MixtureTable:
    """One Gaussian mixture per word: the input (word) or output (context) distributions."""

    means: Tensor
    log_variances: Tensor
    logits: Tensor

    @classmethod
    def initialise(
        cls,
        vocab_size: int,
        components: int,
        dim: int,
        covariance: Covariance,
        initial_variance: float,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        component_spread: float = 1.0,
    ) -> MixtureTable:
        """A.2: means uniform in +-sqrt(3/D) (unit expected squared norm), constant variance,
        equal mixture weights (logits 0).

        With ``component_spread`` s < 1, component k of a word starts at
        mu_0 + s (mu_k - mu_0), each mu_k an A.2 draw: the components begin near one another,
        so the contexts, not the random start, decide which component takes which sense.
        From independent draws (s = 1) each component usually sits far nearer some contexts
        than its sibling does; with variances of 0.05 the responsibilities are then nearly hard,
        the nearer component captures every sense and the other never moves.
        """
        bound = math.sqrt(3.0 / dim)
        means = torch.rand(vocab_size, components, dim, generator=generator, device=device)
        means = means.mul_(2 * bound).sub_(bound)
        if component_spread != 1.0:
            anchor = means[:, :1]
            means = anchor + component_spread * (means - anchor)
        columns = 1 if covariance == "spherical" else dim
        log_variances = torch.full(
            (vocab_size, components, columns), math.log(initial_variance), device=device
        )
        logits = torch.zeros(vocab_size, components, device=device)
        return cls(means, log_variances, logits)

    @property
    def vocab_size(self) -> int:
        return self.means.shape[0]

    @property
    def components(self) -> int:
        return self.means.shape[1]

    @property
    def dim(self) -> int:
        return self.means.shape[2]

    @property
    def covariance(self) -> Covariance:
        return "spherical" if self.log_variances.shape[-1] == 1 else "diagonal"

    def parameters(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in PARAMETER_NAMES}

    def variances(self) -> Tensor:
        return self.log_variances.exp()

    def weights(self) -> Tensor:
        return torch.softmax(self.logits, dim=-1)

    def log_weights(self) -> Tensor:
        return torch.log_softmax(self.logits, dim=-1)

    def to(self, device: torch.device | str) -> MixtureTable:
        return MixtureTable(*(t.to(device) for t in (self.means, self.log_variances, self.logits)))
