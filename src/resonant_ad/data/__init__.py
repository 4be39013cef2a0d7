"""Data layer: LHCO reader, features, regions, signal injection, toy and simulated events."""
