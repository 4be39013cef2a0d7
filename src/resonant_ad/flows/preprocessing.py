"""Invertible per-feature preprocessing with its log-Jacobian, fitted on the training features.

Three kinds, all followed by standardisation:

- ``"standard"``: standardisation only;
- ``"logit"``: min-max scaling into ``(0, 1)`` (with a margin of ``margin`` of the range on
  both sides), then ``logit`` (as in the published SIGMA and CATHODE code): features with a
  hard edge (masses >= 0, ``tau21`` in ``[0, ~1]``) get unbounded tails, so a flow cannot put
  mass beyond the edge;
- ``"gaussianize"``: a monotone piecewise-linear map through the features' empirical
  quantiles onto a standard normal (knots equally spaced in the normal's ``z``), linear beyond
  the end knots. Edges *and* sharp peaks inside the range (the cusp of ``dR`` at ``pi`` of
  back-to-back jets) become smooth Gaussian marginals, which a flow learns far more easily.

The maps act on each feature alone, so ``log |det dT/dx|`` is a sum over features and
densities stay exact in ``x`` space: ``log p_x(x) = log p_z(T(x)) + log |det dT/dx|``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from resonant_ad.errors import InputError

__all__ = ["PREPROCESSINGS", "Preprocessor", "check_preprocessing"]

PREPROCESSINGS = ("standard", "logit", "gaussianize")


def check_preprocessing(kind: str) -> None:
    """Raise :class:`~resonant_ad.errors.InputError` unless ``kind`` is one of
    :data:`PREPROCESSINGS`."""
    if kind not in PREPROCESSINGS:
        raise InputError(f"preprocessing {kind!r}: choose one of {PREPROCESSINGS}")


class Preprocessor(nn.Module):
    r"""Invertible map :math:`z = T(x)` with its log-Jacobian, fitted by :meth:`fit`.

    ``kind`` is one of :data:`PREPROCESSINGS`. ``knots`` (``"gaussianize"``) is the number of
    quantile knots; the outermost knots sit at the normal quantile whose tail holds
    ``tail_events`` training events (at most ``z = 5``). All statistics are buffers: they are
    saved and moved with the model.

    >>> pre = Preprocessor(2).fit(torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    >>> z, logdet = pre(torch.tensor([[1.0, 2.0]]))
    >>> z.tolist(), round(float(logdet), 4)
    ([[0.0, 0.0]], -0.6931)
    >>> g = Preprocessor(1, "gaussianize").fit(torch.rand(10000, 1, dtype=torch.float64))
    >>> x = torch.tensor([[0.02], [0.5], [0.97]], dtype=torch.float64)
    >>> bool(torch.allclose(g.inverse(g(x)[0]), x))
    True
    """

    mean: Tensor
    std: Tensor
    lo: Tensor
    hi: Tensor
    x_knots: Tensor
    z_knots: Tensor

    def __init__(
        self,
        features: int,
        kind: str = "standard",
        *,
        knots: int = 129,
        margin: float = 1e-3,
        tail_events: int = 20,
    ) -> None:
        super().__init__()
        check_preprocessing(kind)
        if kind == "gaussianize" and knots < 3:
            raise InputError(f"gaussianize needs at least 3 knots, got {knots}")
        self.features = features
        self.kind = kind
        self.margin = margin
        self.tail_events = tail_events
        f64 = torch.float64
        self.register_buffer("lo", torch.zeros(features, dtype=f64))
        self.register_buffer("hi", torch.ones(features, dtype=f64))
        k = knots if kind == "gaussianize" else 2
        self.register_buffer("x_knots", torch.linspace(-1, 1, k, dtype=f64).repeat(features, 1))
        self.register_buffer("z_knots", torch.linspace(-1, 1, k, dtype=f64))
        self.register_buffer("mean", torch.zeros(features, dtype=f64))
        self.register_buffer("std", torch.ones(features, dtype=f64))

    # ------------------------------------------------------------------ the per-feature maps
    def _logit(self, x: Tensor) -> tuple[Tensor, Tensor]:
        lo, hi = self.lo.to(x), self.hi.to(x)
        u = (x - lo) / (hi - lo)
        # d logit(u)/dx = 1 / (u (1 - u) (hi - lo))
        logdet = -(torch.log(u) + torch.log1p(-u) + torch.log(hi - lo)).sum(dim=1)
        return torch.logit(u), logdet

    def _sigmoid(self, y: Tensor) -> Tensor:
        lo, hi = self.lo.to(y), self.hi.to(y)
        return lo + (hi - lo) * torch.sigmoid(y)

    @staticmethod
    def _piecewise(x: Tensor, xk: Tensor, zk: Tensor) -> tuple[Tensor, Tensor]:
        """Each column of ``x`` through the monotone line segments ``(xk[j], zk)``."""
        k = zk.shape[-1]
        xt = x.t().contiguous()  # (d, n)
        idx = torch.searchsorted(xk, xt).clamp(1, k - 1)
        x0, x1 = xk.gather(1, idx - 1), xk.gather(1, idx)
        zkk = zk.expand_as(xk) if zk.dim() == 1 else zk
        z0, z1 = zkk.gather(1, idx - 1), zkk.gather(1, idx)
        slope = (z1 - z0) / (x1 - x0)
        return (z0 + slope * (xt - x0)).t(), slope.t()

    def _gaussianize(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z, slope = self._piecewise(x, self.x_knots.to(x), self.z_knots.to(x))
        return z, torch.log(slope).sum(dim=1)

    def _degaussianize(self, z: Tensor) -> Tensor:
        zk = self.z_knots.to(z).expand(self.features, -1).contiguous()
        x, _ = self._piecewise(z, zk, self.x_knots.to(z))
        return x

    def _map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.kind == "logit":
            return self._logit(x)
        if self.kind == "gaussianize":
            return self._gaussianize(x)
        return x, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)

    # ------------------------------------------------------------------ public
    def fit(self, x: Tensor) -> Preprocessor:
        """Fit the map's statistics on training features ``x`` of shape ``(n, d)``."""
        x = x.to(torch.float64)
        if x.ndim != 2 or x.shape[1] != self.features:
            raise InputError(f"preprocessing expects shape (n, {self.features})")
        n = x.shape[0]
        if n < 2:
            raise InputError("preprocessing needs at least two training events")
        if self.kind == "logit":
            lo, hi = x.min(dim=0).values, x.max(dim=0).values
            span = (hi - lo).clamp_min(1e-12)
            self.lo.copy_(lo - self.margin * span)
            self.hi.copy_(hi + self.margin * span)
        elif self.kind == "gaussianize":
            k = self.z_knots.shape[0]
            tail = min(0.25, max(self.tail_events, 1) / n)
            z_max = min(5.0, -_normal_ppf(tail))
            zk = torch.linspace(-z_max, z_max, k, dtype=torch.float64)
            probs = 0.5 * (1 + torch.erf(zk / math.sqrt(2)))
            xk = torch.quantile(x, probs, dim=0).t().contiguous()  # (d, k)
            # strictly increasing knots even where a feature has ties (e.g. masses at 0)
            span = (xk[:, -1] - xk[:, 0]).clamp_min(1e-12).unsqueeze(1)
            step = 1e-6 * span / k
            xk = xk + step * torch.arange(k, dtype=torch.float64)
            self.z_knots.copy_(zk)
            self.x_knots.copy_(xk)
        y, _ = self._map(x)
        if not bool(torch.isfinite(y).all()):
            raise InputError("non-finite features after preprocessing")
        self.mean.copy_(y.mean(dim=0))
        self.std.copy_(y.std(dim=0).clamp_min(1e-12))
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(T(x), log |det dT/dx|)`` per row."""
        y, logdet = self._map(x)
        z = (y - self.mean.to(x)) / self.std.to(x)
        return z, logdet - torch.log(self.std.to(x)).sum()

    def inverse(self, z: Tensor) -> Tensor:
        """``x = T^{-1}(z)``."""
        y = z * self.std.to(z) + self.mean.to(z)
        if self.kind == "logit":
            return self._sigmoid(y)
        if self.kind == "gaussianize":
            return self._degaussianize(y)
        return y

    def extra_repr(self) -> str:
        return f"features={self.features}, kind={self.kind!r}"


def _normal_ppf(p: float) -> float:
    """Standard normal quantile."""
    return float(torch.special.ndtri(torch.tensor(p, dtype=torch.float64)))
