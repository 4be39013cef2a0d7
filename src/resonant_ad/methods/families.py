"""Template families by name: ``make_template("sigma-context", model=...)`` and loading."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.methods.base import FlowTemplate, Template
from resonant_ad.methods.cr import CRTemplate
from resonant_ad.methods.data import DataTemplate
from resonant_ad.methods.sigma import SigmaTemplate

__all__ = ["TEMPLATE_NAMES", "make_template", "template_from_state"]

TEMPLATE_NAMES = ("data", "cr", "sigma-linear", "sigma-context", "sigma-poly")


def make_template(name: str, model: Any = None, **kwargs: Any) -> Template:
    """A template of family ``name`` (one of :data:`TEMPLATE_NAMES`).

    ``model``: an already fitted :class:`~resonant_ad.flows.model.FlowMatchingModel` to
    reuse (``data`` and the ``sigma-*`` templates share one ``v_data``); ``kwargs`` go to
    the template's constructor (``preset``, ``model_params``, ``masses``, ...).

    >>> make_template("sigma-linear").interpolation_kind
    'linear'
    """
    if name == "data":
        return DataTemplate(model, **kwargs)
    if name == "cr":
        return CRTemplate(model, **kwargs)
    if name.startswith("sigma-") and name in TEMPLATE_NAMES:
        return SigmaTemplate(model, interpolation=name.removeprefix("sigma-"), **kwargs)
    raise InputError(f"unknown template {name!r}; choose one of {TEMPLATE_NAMES}")


def template_from_state(state: Mapping[str, Any], device: str = "auto") -> Template:
    """Rebuild a template saved with :meth:`Template.save`."""
    from resonant_ad.flows.model import FlowMatchingModel

    name = state.get("template")
    if name not in TEMPLATE_NAMES:
        raise InputError(f"not a saved template (family {name!r})")
    model = FlowMatchingModel.from_state(state["model"], device)
    settings = dict(state["settings"])
    if name == "cr":
        region = settings.pop("signal_region")
        settings["signal_region"] = None if region is None else SignalRegion(*region)
    if name.startswith("sigma-"):
        settings.pop("interpolation")
        if settings.get("masses") is not None:
            settings["masses"] = tuple(settings["masses"])
        settings["poly_offsets"] = tuple(settings["poly_offsets"])
    template = make_template(name, model, **settings)
    assert isinstance(template, FlowTemplate)
    return template
