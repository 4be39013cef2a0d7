"""``cwola``: CWoLa hunting, the SR data against the data of the sidebands next to it."""

from __future__ import annotations

from resonant_ad.methods.registry import Method, register
from resonant_ad.models.sideband_events import SidebandEvents, SidebandSettings

__all__ = ["CWoLaMethod"]


class CWoLaMethod(Method):
    """``cwola``: CWoLa hunting (Collins, Howe and Nachman, arXiv:1902.02634): the weakly
    supervised classifier trained on the SR data against the data of the neighbouring
    sidebands (each as wide as the SR unless ``[method.cwola] width`` says otherwise), with
    no generative model (:class:`~resonant_ad.models.sideband_events.SidebandEvents`). The
    template is all of those events, whatever ``[classifier] oversampling`` asks for.

    It is as good as the features are independent of the mass: a feature that moves with
    ``m`` differs between the SR and its sidebands on background alone (mass sculpting), and
    the classifier learns that as if it were a signal. ``tests/test_cwola.py`` measures it on
    a Gaussian toy whose means move with ``m`` as the toy's of the other template tests do:
    the classifier tells the background-only SR from its sidebands with an AUC of 0.78
    (0.50 where the features do not move with ``m``).
    """

    name = "cwola"
    label = "CWoLa hunting"
    color = "#a6761d"
    linestyle = "--"
    trains_on = "sidebands"
    description = "CWoLa hunting: SR data against the neighbouring sidebands' data"
    model_class = SidebandEvents
    options_class = SidebandSettings


register(CWoLaMethod())
