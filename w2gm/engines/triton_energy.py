"""One pair's mixtures on the GPU: the log energy of Eq. (2) and its gradients, as Triton
device functions for the kernel of :mod:`w2gm.engines.triton_update`.

The gradients are those of :mod:`w2gm.engines.hogwild`'s docstring.  For one pair, with f the
word's mixture (means mu_i, variances a_i, weights p = softmax(s)), g a context's (nu_j,
b_j, q) and S_ijc = a_ic + b_jc + epsilon (A.2), C variance columns each standing for D/C
dimensions:

* Eq. (3): xi_ij = -1/2 [ (D/C) sum_c log S_ijc + D log 2 pi + sum_d (mu_id - nu_jd)^2 / S_ijc(d) ]
* Eq. (2): log E = logsumexp_ij x_ij,  x_ij = log p_i + log q_j + xi_ij (A.2's max-shifted form)
* 3.3:     L = sum_n max(0, m - log E(w, c) + log E(w, c'_n))
  (under the "nll" objective L = -log sigma(s(w, c)) - sum_n log sigma(-s(w, c'_n)),
  s = log E + b, w2gm.objective)

and with r_ij = exp(x_ij - log E) the responsibilities: d log E / d xi_ij = r_ij;
d log E / d s_i = sum_j r_ij - p_i; d xi_ij / d mu_id = -(mu_id - nu_jd) / S_ijc(d) =
-d xi_ij / d nu_jd; d xi_ij / d log a_ic = a_ic / 2 [ sum_{d in c} (mu_id - nu_jd)^2 / S_ijc^2
- (D/C) / S_ijc ], and the same with b_jc for log b_jc.
"""

from __future__ import annotations

import math
import os

import triton
import triton.language as tl
from triton.language.extra.cuda import libdevice

LOG_2PI = tl.constexpr(math.log(2.0 * math.pi))

# The kernel is bound by instruction issue, not by memory: Nsight Compute on an H200 (K = 2,
# D = 50, text8 prefix) found its schedulers issuing 81 % of the cycles they could and DRAM
# 1 % busy, and the H100, with some 30 % less copy bandwidth, trained as many pairs/s.  So
# each exp, log and division counts.  tl.log is libdevice's accurate logf, a polynomial of
# some twenty instructions, and tl.exp and "/" add steps for denormals and huge divisors;
# the hardware's approximations (ex2, lg2, rcp; relative error about 2^-22, denormals
# flushed to zero) took the kernel from 2,232 to 1,311 instructions a pair and from 372M to
# 676M pairs/s (benchmarks/gpu_throughput.py).  No value here is denormal or near float32's
# range: variance sums are at least epsilon, and softmax and logsumexp sums at least 1.
# Triton's interpreter, which runs the tests without a GPU, has no libdevice.
INTERPRETED = tl.constexpr(os.environ.get("TRITON_INTERPRET") == "1")


@triton.jit
def approx_exp(x):
    """exp(x) from the hardware's ex2 (denormal results flushed to zero)."""
    if INTERPRETED:
        return tl.exp(x)
    else:
        return libdevice.fast_expf(x)


@triton.jit
def approx_log(x):
    """log(x) from the hardware's lg2."""
    if INTERPRETED:
        return tl.log(x)
    else:
        return libdevice.fast_logf(x)


@triton.jit
def approx_divide(x, y):
    """x / y as x times the hardware's reciprocal of y."""
    if INTERPRETED:
        return x / y
    else:
        return libdevice.fast_dividef(x, y)

# Every tile is 4-D, so that one layout serves the whole kernel: axis 0 runs over the
# block's pairs, axis 3 over dimensions (or variance columns), and a mixture's components
# lie along axis 1 for the word (f) and along axis 2 for a context (g).  Then f - g
# broadcasts to the K x K component pairs of Eq. (2) and every reduction keeps its axis,
# with no change of layout between the steps.
WORD = tl.constexpr(1)
CONTEXT = tl.constexpr(2)


@triton.jit
def row_offsets(
    rows, K: tl.constexpr, W: tl.constexpr, KP: tl.constexpr, WP: tl.constexpr, AXIS: tl.constexpr,
):
    """Offsets of ``rows`` ``[B, 1, 1, 1]`` in a ``[V, K, W]`` table, components along AXIS
    (WORD or CONTEXT), and the mask of the real entries: K and W are padded to the powers of
    two KP and WP."""
    component = tl.arange(0, KP)[None, :, None, None] if AXIS == WORD else tl.arange(0, KP)[None, None, :, None]
    column = tl.arange(0, WP)[None, None, None, :]
    offsets = rows.to(tl.int64) * (K * W) + component * W + column
    return offsets, (component < K) & (column < W)


@triton.jit
def load_mixture(
    means_ptr, log_variances_ptr, logits_ptr, rows, AXIS: tl.constexpr,
    K: tl.constexpr, D: tl.constexpr, C: tl.constexpr, KP: tl.constexpr, DP: tl.constexpr, CP: tl.constexpr,
):
    """The mixtures of ``rows``, components along AXIS: means (``DP`` wide), variances
    a = exp(log a) (``CP`` wide) and log weights log p = log softmax(s); padded components
    get log p = -inf."""
    offsets, mask = row_offsets(rows, K, D, KP, DP, AXIS)
    means = tl.load(means_ptr + offsets, mask=mask, other=0.0)
    offsets, mask = row_offsets(rows, K, C, KP, CP, AXIS)
    variances = approx_exp(tl.load(log_variances_ptr + offsets, mask=mask, other=0.0))
    offsets, mask = row_offsets(rows, K, 1, KP, 1, AXIS)
    logits = tl.load(logits_ptr + offsets, mask=mask, other=-float("inf"))
    shifted = logits - tl.max(logits, axis=AXIS, keep_dims=True)
    log_weights = shifted - approx_log(tl.sum(approx_exp(shifted), axis=AXIS, keep_dims=True))
    return means, variances, log_weights


@triton.jit
def _sum_pairs(x):
    """Sum over the K x K component pairs (axes 1 and 2)."""
    return tl.sum(tl.sum(x, axis=2, keep_dims=True), axis=1, keep_dims=True)


@triton.jit
def log_energy(
    means_f, variances_f, log_weights_f, means_g, variances_g, log_weights_g, epsilon,
    D: tl.constexpr, C: tl.constexpr, CP: tl.constexpr,
):
    """log E(f, g) of Eq. (2) for each pair, with what its gradient needs: the
    responsibilities r_ij, the differences mu_fi - nu_gj, the inverse variance sums 1 / S_ijc,
    the squared distances summed within each column c, and x_ij = log p_i + log q_j + xi_ij."""
    difference = means_f - means_g  # [B, KP, KP, DP]
    variance_sum = variances_f + variances_g + epsilon  # S_ijc (A.2), [B, KP, KP, CP]
    squared = difference * difference
    if C == 1:  # spherical: one column stands for all D dimensions
        squared = tl.sum(squared, axis=3, keep_dims=True)
    real_column = tl.arange(0, CP)[None, None, None, :] < C
    inverse_sum = approx_divide(1.0, variance_sum)  # divided by once, multiplied by from here on
    log_det = (D // C) * tl.sum(tl.where(real_column, approx_log(variance_sum), 0.0), axis=3, keep_dims=True)
    xi = -0.5 * (log_det + D * LOG_2PI + tl.sum(squared * inverse_sum, axis=3, keep_dims=True))  # Eq. (3)
    x = log_weights_f + log_weights_g + xi
    # logsumexp shifted by its largest term (A.2), then r_ij = exp(x_ij - log E)
    top = tl.max(tl.max(x, axis=2, keep_dims=True), axis=1, keep_dims=True)
    terms = approx_exp(x - top)
    total = _sum_pairs(terms)
    return top + approx_log(total), approx_divide(terms, total), difference, inverse_sum, squared, x


@triton.jit
def sense_energy(x, share, log_weights_f):
    """The "sense" objective's negative energy sum_i rho_i log E(N_fi, g) from x_ij, with
    rho_i = ``share`` (train.max_margin_loss), and its derivative in xi_ij: rho_i times the
    responsibilities of g's components given f's component i.  Padded entries (x = -inf,
    rho = 0) contribute nothing."""
    finite = tl.where(x > -float("inf"), x, -1e30)
    top = tl.max(finite, axis=CONTEXT, keep_dims=True)
    terms = approx_exp(finite - top)
    total = tl.sum(terms, axis=CONTEXT, keep_dims=True)
    per_component = tl.where(share > 0.0, share * (top + approx_log(total) - log_weights_f), 0.0)
    return tl.sum(per_component, axis=WORD, keep_dims=True), approx_divide(share * terms, total)


@triton.jit
def sigmoid(x):
    """1 / (1 + exp(-x)) from exp(-|x|), which cannot overflow."""
    small = approx_exp(-tl.abs(x))
    return approx_divide(tl.where(x >= 0.0, 1.0, small), 1.0 + small)


@triton.jit
def softplus(x):
    """log(1 + exp(x)) = -log sigma(-x), written so that exp cannot overflow."""
    return tl.maximum(x, 0.0) + approx_log(1.0 + approx_exp(-tl.abs(x)))


@triton.jit
def log_energy_gradients(
    coefficient, responsibility, sense_coefficient, sense_responsibility, difference, inverse_sum, squared,
    variances_f, log_weights_f, variances_g, log_weights_g, D: tl.constexpr, C: tl.constexpr, SENSE: tl.constexpr,
):
    """The gradients of ``coefficient`` times log E(f, g), plus with SENSE
    ``sense_coefficient`` times the sense energy of :func:`sense_energy`, with respect to
    f's and g's means, log variances and logits (module docstring), from
    :func:`log_energy`'s results.  The sense energy does not depend on f's weights."""
    weight = coefficient * responsibility  # d (coefficient log E) / d xi_ij
    if SENSE:
        weight += sense_coefficient * sense_responsibility
    pull = (weight * inverse_sum) * difference  # -d / d mu_fi = d / d nu_gj
    # d xi_ij / d S_ijc, which times a_ic (or b_jc) is the log-variance gradient
    d_xi_d_sum = weight * 0.5 * (squared * inverse_sum - D // C) * inverse_sum
    means_f = -tl.sum(pull, axis=CONTEXT, keep_dims=True)
    means_g = tl.sum(pull, axis=WORD, keep_dims=True)
    log_variances_f = tl.sum(d_xi_d_sum, axis=CONTEXT, keep_dims=True) * variances_f
    log_variances_g = tl.sum(d_xi_d_sum, axis=WORD, keep_dims=True) * variances_g
    # d log E / d s_i = sum_j r_ij - p_i, and for g's logits the column sums of r
    logits_f = coefficient * (tl.sum(responsibility, axis=CONTEXT, keep_dims=True) - approx_exp(log_weights_f))
    logits_g = coefficient * (tl.sum(responsibility, axis=WORD, keep_dims=True) - approx_exp(log_weights_g))
    if SENSE:
        logits_g += sense_coefficient * (tl.sum(sense_responsibility, axis=WORD, keep_dims=True)
                                         - approx_exp(log_weights_g))
    return means_f, log_variances_f, logits_f, means_g, log_variances_g, logits_g
