"""Data layer: LHC Olympics reader, features, regions, signal injection, toy and simulated events."""
