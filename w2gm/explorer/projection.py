"""A 2-D picture of some components: PCA of their means, each with a standard deviation.

The two principal directions are orthonormal, so projecting onto them keeps the units of
the embedding space: a spherical component of variance v projects to a circle of radius
sqrt(v) on the same scale as the means, and circles and distances can be read together.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Projection:
    """``coordinates [N, 2]`` of the means in the PCA plane and each component's ``radius [N]``."""

    coordinates: Tensor
    radii: Tensor


def project(means: Tensor, variances: Tensor) -> Projection:
    """Project ``means [N, D]`` with ``variances [N, C]`` (C = 1 or D) onto their first two
    principal components.

    A diagonal component's projected covariance is not a circle; its radius is the root
    mean of its two projected variances, which is exactly sigma when the component is
    spherical.  Where there are fewer than two directions (one point, or D = 1) the
    missing coordinate is zero and the radius comes from the direction there is.
    """
    centred = means - means.mean(dim=0, keepdim=True)
    _, _, directions = torch.linalg.svd(centred, full_matrices=False)
    axes = torch.zeros(2, means.shape[1], dtype=means.dtype)
    usable = min(2, directions.shape[0])
    axes[:usable] = directions[:usable]
    coordinates = centred @ axes.T
    # Each axis has unit length, so sum_d a_d^2 v_d is the variance along it; a spherical
    # variance column broadcasts over the D dimensions.
    projected = (axes[:usable].square().unsqueeze(0) * variances.unsqueeze(1)).sum(-1)  # [N, usable]
    return Projection(coordinates=coordinates, radii=projected.mean(-1).sqrt())
