"""Benchmarks of the density methods: R-ANODE and its diagnostics, the sideband correction
and the cost of the exact log-densities."""
