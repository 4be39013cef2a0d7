"""Benchmarks of the physics simulator: speed, generator cuts and tunes."""
