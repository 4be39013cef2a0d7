"""``r-anode``, ``r-anode-x``, ``r-anode-ideal`` and ``anode``: anomaly scores from densities
over SIGMA's exact background likelihood (:mod:`resonant_ad.density.mixture`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.methods.inputs import FitInputs, RegionInputs
from resonant_ad.methods.registry import Method, register

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig
    from resonant_ad.density.mixture import SignalMixture

__all__ = ["DensityMethod"]

W_MODES = ("learned", "truth", "one")


class DensityMethod(Method):
    """A signal density fitted to the SR data over a fixed background density.

    The background is the exact ``log p_B(x | m)`` of ``[density] background`` (default
    ``sigma-context``: the one ``v_data`` interpolated into the SR) times ``p(m)`` from the
    SR masses or a sideband fit (``[density] mass``), evaluated once per SR and model and
    cached. ``w``:

    - ``learned`` (``r-anode``, arXiv:2312.11629): ``p_S`` and the signal fraction ``w``
      fitted together, with the collapse rule and the profile-likelihood interval of
      :class:`~resonant_ad.density.mixture.SignalMixture`;
    - ``truth`` (``r-anode-ideal``): ``w`` fixed at the true signal fraction of the SR data
      (a yardstick: it needs the labels);
    - ``one`` (``anode``, arXiv:2001.04990): ``p_S`` is the density of all SR data.

    The score of a test event is ``log p_S(x, m) - log p_B(x | m) - log p(m)``. With
    ``mass_input=False`` (``r-anode-x``) ``p_S`` is a density over ``x`` alone times the
    background's ``p(m)``: the score is ``log p_S(x) - log p_B(x | m)``, and ``m`` enters
    only through ``p_B``, as for a classifier of ``x`` against a template. It fits without
    ``[density] capture`` (the signal's mass density is the background's by construction).

    Cost on this 2-core CPU (Pythia dev sample, SR 3.3-3.7 TeV, ~29k SR events; see
    ``benchmarks/density/results/ranode_compare_sigma-context/summary.txt``): the background
    densities and the fit of ``p_S`` are measured there per SR.
    """

    trains_on = "sr-data"
    yields = "scores"

    def __init__(
        self,
        name: str,
        label: str,
        color: str,
        linestyle: str,
        w: str,
        needs_truth: bool,
        mass_input: bool = True,
    ) -> None:
        if w not in W_MODES:
            raise InputError(f"w mode {w!r}: expected one of {W_MODES}")
        self.name, self.label, self.color, self.linestyle = name, label, color, linestyle
        self.w_mode = w
        self.needs_truth = needs_truth
        self.mass_input = mass_input

    def background_method(self, config: StudyConfig) -> str | None:
        return config.density.background

    def model_settings(self, config: StudyConfig) -> Any:
        if self.mass_input:  # the key of fits made before x-only fits existed
            return (self.w_mode, config.density.fit_key())
        return (self.w_mode, "x", config.density.fit_key())

    def _log_mass(self, background: Any, part: slice | int) -> np.ndarray | None:
        """The background's ``log p(m)`` of the fit's events (``slice(0, 2)``) or of the
        test events (``2``); needed only by a ``p_S`` over ``x`` alone."""
        masses = background.log_mass
        if masses is None:
            if self.mass_input:
                return None
            raise InputError(
                f"{self.name}: the background densities hold no log p(m) of the test events "
                "(cached by an older version): remove the run folder's densities cache"
            )
        return np.concatenate(masses[part]) if isinstance(part, slice) else masses[part]

    def fit_arguments(self, inputs: FitInputs) -> dict[str, Any]:
        """The arguments of :meth:`~resonant_ad.density.mixture.SignalMixture.fit` (and
        ``rescan``) for ``inputs``: the SR data (training and validation events), their
        ``log p_B + log p(m)``, the SR, the reference sample and the ``log p(m)``."""
        if inputs.background is None or inputs.region is None:
            raise InputError(f"method {self.name!r} needs the SR background densities")
        events = Events.concatenate([inputs.train, inputs.val])
        ref = inputs.background.reference
        return {
            "x": events.x,
            "m": events.m,
            "log_background": np.concatenate([inputs.background.train, inputs.background.val]),
            "signal_region": (inputs.region.lo, inputs.region.hi),
            "reference": None if ref is None else (ref.x, ref.m),
            "log_mass": self._log_mass(inputs.background, slice(0, 2)),
        }

    def fit(self, inputs: FitInputs) -> SignalMixture:
        from resonant_ad.density.mixture import SignalMixture

        arguments = self.fit_arguments(inputs)
        fixed: float | None = None
        if self.w_mode == "one":
            fixed = 1.0
        elif self.w_mode == "truth":
            fixed = float(np.mean(np.concatenate([inputs.train.label, inputs.val.label])))
            if fixed <= 0:
                raise InputError("r-anode-ideal: the SR data hold no signal (true w = 0)")
        params = inputs.config.density.mixture_params()
        if not self.mass_input:
            params.update(mass_input=False, capture=False)
        mixture = SignalMixture(**params, fixed_w=fixed, random_state=inputs.seed)
        mixture.fit(**arguments)
        # the fit keeps the diagnostics of the background correction it was fitted over
        assert inputs.background is not None
        mixture.sideband_correction_ = inputs.background.correction
        return mixture

    def refresh(self, model: Any, inputs: FitInputs) -> SignalMixture | None:
        """A stored fit with the capture rescanned (``p_S`` as stored) where its
        ``capture_penalty`` is not the study's, or where it was stored before a fit kept its
        scan without the capture."""
        penalty = inputs.config.density.capture_penalty
        if not getattr(model, "capture", False) or model.fixed_w is not None:
            return None
        if model.without_capture is not None and model.capture_penalty == penalty:
            return None
        model.capture_penalty = penalty
        return model.rescan(**self.fit_arguments(inputs))

    def scores(self, model: Any, inputs: RegionInputs) -> np.ndarray:
        if inputs.background is None:
            raise InputError(f"method {self.name!r} needs the test events' background densities")
        bg = inputs.background
        log_mass = None if self.mass_input else self._log_mass(bg, 2)
        return np.asarray(model.score(inputs.test.x, inputs.test.m, bg.test, log_mass))


register(DensityMethod("r-anode", "R-ANODE", "#8c564b", "-", w="learned", needs_truth=False))
register(
    DensityMethod(
        "r-anode-x", "R-ANODE (p_S of x)", "#e377c2", "-.", "learned", False, mass_input=False
    )
)
register(
    DensityMethod("r-anode-ideal", "R-ANODE (true w)", "#c49c94", ":", w="truth", needs_truth=True)
)
register(DensityMethod("anode", "ANODE", "#bcbd22", "--", w="one", needs_truth=False))
