"""Conditional flow matching for p(x | m): embeddings, vector field, path, ODE, estimator."""

from __future__ import annotations

__all__: list[str] = []
