"""Reporting: plots in the field's style, report.json and terminal summary tables."""
