"""Closed forms of Eq. (2)-(3) against integration, Monte Carlo and scipy."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import multivariate_normal

from w2gm.energy import gaussian_kl, log_expected_likelihood, partial_log_energies


def random_mixture(rng, k, d, covariance, dtype=torch.float64):
    columns = 1 if covariance == "spherical" else d
    means = torch.tensor(rng.normal(size=(k, d)), dtype=dtype)
    log_variances = torch.tensor(rng.uniform(-1.0, 0.5, size=(k, columns)), dtype=dtype)
    log_weights = torch.log_softmax(torch.tensor(rng.normal(size=k), dtype=dtype), -1)
    return means, log_variances, log_weights


def density(mixture, x):
    """f(x) of Eq. (1) at points x [n, d], by scipy."""
    means, log_variances, log_weights = (t.numpy() for t in mixture)
    d = means.shape[1]
    total = np.zeros(len(x))
    for mean, log_var, log_w in zip(means, log_variances, log_weights, strict=True):
        cov = np.diag(np.broadcast_to(np.exp(log_var), (d,)))
        total += np.exp(log_w) * multivariate_normal(mean, cov).pdf(x)
    return total


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_log_elk_equals_numerical_integral_in_one_and_two_dimensions(covariance, k):
    rng = np.random.default_rng(k)
    for d in (1, 2):
        f, g = random_mixture(rng, k, d, covariance), random_mixture(rng, k, d, covariance)
        closed = float(log_expected_likelihood(*f, *g, epsilon=0.0))
        if d == 1:
            def product(x, f=f, g=g):
                return density(f, [[x]])[0] * density(g, [[x]])[0]

            value, _ = integrate.quad(product, -15, 15, limit=200)
        else:
            grid = np.linspace(-9, 9, 601)
            xx, yy = np.meshgrid(grid, grid)
            points = np.column_stack([xx.ravel(), yy.ravel()])
            value = np.sum(density(f, points) * density(g, points)) * (grid[1] - grid[0]) ** 2
        assert closed == pytest.approx(math.log(value), abs=2e-4)


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
def test_log_elk_matches_monte_carlo_in_four_dimensions(covariance):
    rng = np.random.default_rng(7)
    f, g = random_mixture(rng, 3, 4, covariance), random_mixture(rng, 2, 4, covariance)
    # E = E_{x ~ f}[g(x)]: sample component then point
    n = 400_000
    weights = f[2].exp().numpy()
    which = rng.choice(len(weights), size=n, p=weights / weights.sum())
    std = np.sqrt(np.broadcast_to(f[1].exp().numpy(), f[0].shape))
    x = f[0].numpy()[which] + rng.normal(size=(n, 4)) * std[which]
    samples = density(g, x)
    estimate, stderr = samples.mean(), samples.std() / math.sqrt(n)
    closed = math.exp(float(log_expected_likelihood(*f, *g, epsilon=0.0)))
    assert abs(closed - estimate) < 4 * stderr


def test_spherical_log_det_counts_every_dimension():
    """log det(S_f + S_g) = D log(s_f + s_g): a spherical model equals the diagonal model
    with the variance repeated D times, and the scipy density of N(0; diff, (s_f+s_g) I)."""
    rng = np.random.default_rng(3)
    d = 6
    f, g = random_mixture(rng, 2, d, "spherical"), random_mixture(rng, 2, d, "spherical")
    xi = partial_log_energies(f[0], f[1], g[0], g[1], epsilon=1e-4)
    xi_diag = partial_log_energies(f[0], f[1].expand(2, d), g[0], g[1].expand(2, d), epsilon=1e-4)
    torch.testing.assert_close(xi, xi_diag)
    for i in range(2):
        for j in range(2):
            s = float(f[1][i].exp() + g[1][j].exp()) + 1e-4
            ref = multivariate_normal(np.zeros(d), s * np.eye(d)).logpdf((f[0][i] - g[0][j]).numpy())
            assert float(xi[i, j]) == pytest.approx(ref, rel=1e-10)


def test_log_elk_is_finite_when_partial_energies_are_far_apart():
    d = 4
    near = torch.zeros(1, d, dtype=torch.float32)
    far = torch.full((1, d), 100.0)  # xi ~ -1e4 / variance: e^xi underflows float32
    means_f = torch.cat([near, far])
    means_g = torch.zeros(2, d)
    log_var = torch.full((2, 1), math.log(0.05))
    log_w = torch.log(torch.tensor([0.5, 0.5]))
    xi = partial_log_energies(means_f, log_var, means_g, log_var)
    assert xi.min() < -1e4 and xi.max() > -10
    value = log_expected_likelihood(means_f, log_var, log_w, means_g, log_var, log_w)
    assert torch.isfinite(value)
    # only the near pair counts: log E = log(p q (2 terms of g)) + xi_near
    assert float(value) == pytest.approx(float(xi[0, 0] + torch.log(torch.tensor(0.5))), abs=1e-4)
    # all pairs far apart: still finite, not -inf
    lonely = log_expected_likelihood(far.expand(2, d), log_var, log_w, means_g, log_var, log_w)
    assert torch.isfinite(lonely) and lonely < -1e4


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
def test_gaussian_kl_matches_monte_carlo(covariance):
    rng = np.random.default_rng(11)
    d = 3
    f, g = random_mixture(rng, 1, d, covariance), random_mixture(rng, 1, d, covariance)
    mean_f, var_f = f[0][0].numpy(), np.broadcast_to(f[1][0].exp().numpy(), (d,))
    mean_g, var_g = g[0][0].numpy(), np.broadcast_to(g[1][0].exp().numpy(), (d,))
    x = mean_f + rng.normal(size=(400_000, d)) * np.sqrt(var_f)
    log_f = multivariate_normal(mean_f, np.diag(var_f)).logpdf(x)
    log_ratio = log_f - multivariate_normal(mean_g, np.diag(var_g)).logpdf(x)
    closed = float(gaussian_kl(f[0], f[1], g[0], g[1])[0, 0])
    assert abs(closed - log_ratio.mean()) < 4 * log_ratio.std() / math.sqrt(len(x))
