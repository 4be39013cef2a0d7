"""Benchmark of the weakly supervised classifier: time and SIC of the HGB ensemble's settings."""
