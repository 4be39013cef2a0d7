"""resonant-ad: weakly supervised resonant anomaly detection for collider bump hunts."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
