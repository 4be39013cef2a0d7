"""Benchmark of the sliding-window scan: the background estimate and the significances."""
