"""Background templates: one interface, one module per family (data, cr, sigma)."""

from __future__ import annotations

from resonant_ad.templates.base import FlowTemplate, Template, sample_masses
from resonant_ad.templates.cr import CRTemplate
from resonant_ad.templates.data import DataTemplate
from resonant_ad.templates.registry import TEMPLATE_NAMES, make_template, template_from_state
from resonant_ad.templates.sigma import SigmaTemplate

__all__ = [
    "TEMPLATE_NAMES",
    "CRTemplate",
    "DataTemplate",
    "FlowTemplate",
    "SigmaTemplate",
    "Template",
    "make_template",
    "sample_masses",
    "template_from_state",
]
