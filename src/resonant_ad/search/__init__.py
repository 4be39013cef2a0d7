"""Searches: the config-driven study, the sliding-window scan and the demo."""
