"""Alarm thresholds chosen from training anomaly scores: quantile, POT and SPOT.

* ``quantile``: the empirical ``q``-quantile of the training scores.
* ``pot`` (peaks over threshold, Siffer et al. 2017, "Anomaly detection in streams with extreme value
  theory"): take an initial level ``t`` (the ``init_quantile`` of the scores), fit a generalized Pareto
  distribution (shape ``gamma``, scale ``sigma``) to the excesses ``Y = X[X > t] - t`` and return the
  level ``z_q`` that a score exceeds with probability ``risk``::

      z_q = t + sigma / gamma * ((risk * n / N_t) ** (-gamma) - 1)      (gamma != 0)
      z_q = t - sigma * log(risk * n / N_t)                              (gamma -> 0, exponential tail)

  with ``n`` scores of which ``N_t`` exceed ``t``.
* ``spot``: the same initial threshold, then updated while streaming through test scores
  (:class:`SPOT`).

Robustness of the tail fit: the GPD is fitted by maximum likelihood (``scipy.stats.genpareto.fit``
with the location fixed at 0) when there are at least :data:`MIN_PEAKS_FOR_GPD` excesses; the fit is
kept only if it is finite and its log-likelihood is at least that of the exponential tail
(``gamma = 0``, ``sigma = mean(Y)``), otherwise the exponential tail is used. With fewer excesses the
exponential tail is used directly. With no excesses at all (e.g. constant scores) the threshold is the
smallest float above the largest score. Every threshold returned is finite and strictly above ``t``.

Alarms are raised where ``score >= threshold`` (the rule :func:`netgan_tf.metrics.evaluate` uses).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from netgan_tf.errors import ConfigError, DataError

__all__ = [
    "MIN_PEAKS_FOR_GPD",
    "SPOT",
    "THRESHOLD_METHODS",
    "Threshold",
    "choose_threshold",
    "pot_threshold",
    "quantile_threshold",
]

THRESHOLD_METHODS: tuple[str, ...] = ("quantile", "pot", "spot")

MIN_PEAKS_FOR_GPD = 10
"""Below this many excesses the tail is modelled as exponential instead of fitting a GPD."""

_GAMMA_EPS = 1e-8


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------
def _as_scores(x: npt.ArrayLike, name: str = "train_scores") -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise DataError(f"{name} is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name} must be finite, found {arr[i]} at index {i} ({int(bad.sum())} bad values)")
    return arr


def _check_open_unit(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number in (0, 1), got {value!r}") from exc
    if not (0.0 < v < 1.0):
        raise ConfigError(f"{name} must be in (0, 1), got {value!r}")
    return v


def _check_pot_params(risk: float, init_quantile: float) -> tuple[float, float]:
    r = _check_open_unit(risk, "risk")
    iq = _check_open_unit(init_quantile, "init_quantile")
    if r >= 1.0 - iq:
        raise ConfigError(
            f"risk ({r}) must be smaller than 1 - init_quantile ({1.0 - iq:.6g}): the POT threshold "
            "extrapolates beyond the initial level, so the risk has to lie in the tail"
        )
    return r, iq


# --------------------------------------------------------------------------------------------------
# tail fitting
# --------------------------------------------------------------------------------------------------
def _gpd_loglik(peaks: np.ndarray, gamma: float, sigma: float) -> float:
    """Log-likelihood of excesses under GPD(gamma, sigma); -inf outside the support."""
    if sigma <= 0 or not math.isfinite(sigma) or not math.isfinite(gamma):
        return -math.inf
    n = peaks.size
    if abs(gamma) < _GAMMA_EPS:
        return float(-n * math.log(sigma) - peaks.sum() / sigma)
    arg = 1.0 + gamma * peaks / sigma
    if np.any(arg <= 0):
        return -math.inf
    return float(-n * math.log(sigma) - (1.0 + 1.0 / gamma) * np.log(arg).sum())


def _fit_tail(peaks: np.ndarray) -> tuple[float, float]:
    """Return ``(gamma, sigma)`` for the excesses, per the robustness rules in the module docstring.

    Requires at least one excess with a positive mean (excesses are strictly positive by construction).
    """
    sigma_exp = float(peaks.mean())
    if peaks.size < MIN_PEAKS_FOR_GPD or float(peaks.max() - peaks.min()) <= 0.0:
        return 0.0, sigma_exp
    ll_exp = _gpd_loglik(peaks, 0.0, sigma_exp)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            gamma, _, sigma = stats.genpareto.fit(peaks, floc=0.0)
        gamma, sigma = float(gamma), float(sigma)
    except Exception:  # any optimiser failure falls back to the exponential tail
        return 0.0, sigma_exp
    if not (math.isfinite(gamma) and math.isfinite(sigma) and sigma > 0):
        return 0.0, sigma_exp
    if _gpd_loglik(peaks, gamma, sigma) < ll_exp:
        return 0.0, sigma_exp
    return gamma, sigma


def _pot_level(t: float, gamma: float, sigma: float, risk: float, n: int, n_peaks: int) -> float:
    """``z_q`` for the given tail; finite and strictly above ``t`` (see module docstring)."""
    floor = float(np.nextafter(t, math.inf))
    if n_peaks <= 0 or sigma <= 0:
        return floor
    ratio = risk * n / n_peaks
    z = math.nan
    if ratio > 0:
        with np.errstate(all="ignore"):
            try:
                if abs(gamma) < _GAMMA_EPS:
                    z = t - sigma * math.log(ratio)
                else:
                    z = t + sigma / gamma * (ratio ** (-gamma) - 1.0)
            except (OverflowError, ValueError, ZeroDivisionError):
                z = math.nan
    if not math.isfinite(z):
        # heavy-tail overflow or a bad fit: use the exponential tail with the same scale
        z = t - sigma * math.log(ratio) if ratio > 0 else math.nan
    if not math.isfinite(z):
        return floor
    return max(z, floor)


@dataclass
class _PotState:
    t: float
    gamma: float
    sigma: float
    n: int
    peaks: list[float]


def _pot_init(x: np.ndarray, risk: float, init_quantile: float) -> tuple[_PotState, float]:
    t = float(np.quantile(x, init_quantile))
    peaks = x[x > t] - t
    if peaks.size == 0:
        # nothing above t: t is the maximum; alarm on anything strictly larger
        return _PotState(t, 0.0, 0.0, int(x.size), []), float(np.nextafter(x.max(), math.inf))
    gamma, sigma = _fit_tail(peaks)
    state = _PotState(t, gamma, sigma, int(x.size), peaks.tolist())
    return state, _pot_level(t, gamma, sigma, risk, state.n, peaks.size)


# --------------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------------
def quantile_threshold(train_scores: npt.ArrayLike, q: float = 0.995) -> float:
    """Empirical ``q``-quantile (linear interpolation) of the training scores."""
    qv = _check_open_unit(q, "q")
    x = _as_scores(train_scores)
    return float(np.quantile(x, qv))


def pot_threshold(train_scores: npt.ArrayLike, risk: float = 1e-3, init_quantile: float = 0.98) -> float:
    """Peaks-over-threshold level exceeded with probability ``risk`` (see module docstring)."""
    r, iq = _check_pot_params(risk, init_quantile)
    x = _as_scores(train_scores)
    return _pot_init(x, r, iq)[1]


class SPOT:
    """Streaming POT (Siffer et al. 2017): a threshold that adapts to the tail of the test stream.

    :meth:`fit` calibrates the initial level ``t`` and threshold ``z_q`` from training scores (as
    :func:`pot_threshold`). :meth:`run` then walks through new scores in order; for each score:

    * the threshold in force is recorded, and the score is flagged if ``score >= threshold``;
      a flagged score is **not** added to the tail model;
    * otherwise, if it exceeds ``t`` its excess joins the peaks, and the threshold is recomputed with
      the updated counts ``n``/``N_t``; the GPD parameters themselves are refitted only every
      ``refit_every`` new peaks (default 10, ``1`` refits on every peak like the paper) for speed;
    * every non-flagged score increments ``n``.

    ``run`` continues from the state left by earlier calls (so a stream can be fed in chunks); call
    :meth:`fit` again to start over.
    """

    def __init__(self, risk: float = 1e-3, init_quantile: float = 0.98, refit_every: int = 10) -> None:
        self.risk, self.init_quantile = _check_pot_params(risk, init_quantile)
        if isinstance(refit_every, bool) or not isinstance(refit_every, int | np.integer) or refit_every < 1:
            raise ConfigError(f"refit_every must be a positive integer, got {refit_every!r}")
        self.refit_every = int(refit_every)
        self._state: _PotState | None = None
        self._since_refit = 0
        self.threshold_: float = math.nan
        self.init_threshold_: float = math.nan

    @property
    def init_level_(self) -> float:
        """The initial level ``t`` (the ``init_quantile`` of the training scores)."""
        if self._state is None:
            raise ConfigError("SPOT is not fitted: call fit(train_scores) first")
        return self._state.t

    def fit(self, init_scores: npt.ArrayLike) -> SPOT:
        """Calibrate ``t`` and the initial threshold from training scores."""
        x = _as_scores(init_scores, "init_scores")
        self._state, z = _pot_init(x, self.risk, self.init_quantile)
        self._since_refit = 0
        self.threshold_ = z
        self.init_threshold_ = z
        return self

    def run(self, scores: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Stream through ``scores``; return ``(threshold in force at each point, bool flags)``."""
        st = self._state
        if st is None:
            raise ConfigError("SPOT is not fitted: call fit(train_scores) first")
        x = np.asarray(scores, dtype=np.float64).reshape(-1)
        if x.size and not np.isfinite(x).all():
            i = int(np.flatnonzero(~np.isfinite(x))[0])
            raise DataError(f"scores must be finite, found {x[i]} at index {i}")
        thresholds = np.empty(x.size, dtype=np.float64)
        flags = np.zeros(x.size, dtype=bool)
        z = self.threshold_
        t = st.t
        for i, v in enumerate(x.tolist()):
            thresholds[i] = z
            if v >= z:
                flags[i] = True
                continue
            st.n += 1
            if v > t:
                st.peaks.append(v - t)
                self._since_refit += 1
                if self._since_refit >= self.refit_every or st.sigma <= 0:
                    st.gamma, st.sigma = _fit_tail(np.asarray(st.peaks))
                    self._since_refit = 0
                z = _pot_level(t, st.gamma, st.sigma, self.risk, st.n, len(st.peaks))
            elif st.peaks:
                z = _pot_level(t, st.gamma, st.sigma, self.risk, st.n, len(st.peaks))
        self.threshold_ = z
        return thresholds, flags


# --------------------------------------------------------------------------------------------------
# serialisable threshold
# --------------------------------------------------------------------------------------------------
@dataclass
class Threshold:
    """A chosen threshold: method name, value (flag where ``score >= value``) and the parameters used."""

    method: str
    value: float
    params: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict ``{"method", "value", "params"}``."""
        return {"method": self.method, "value": float(self.value), "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Threshold:
        """Inverse of :meth:`to_dict`; raises ConfigError on an unknown method or non-finite value."""
        if not isinstance(d, dict):
            raise ConfigError(f"threshold must be a JSON object, got {type(d).__name__}")
        missing = [k for k in ("method", "value") if k not in d]
        if missing:
            raise ConfigError(f"threshold is missing key(s): {', '.join(missing)}")
        method = d["method"]
        if method not in THRESHOLD_METHODS:
            raise ConfigError(f"unknown threshold method {method!r}; expected one of {THRESHOLD_METHODS}")
        value = _finite_number(d["value"], "threshold value")
        raw_params = d.get("params", {})
        if raw_params is None:
            raw_params = {}
        if not isinstance(raw_params, dict):
            raise ConfigError(f"threshold params must be an object, got {type(raw_params).__name__}")
        params = {str(k): _finite_number(v, f"threshold param {k!r}") for k, v in raw_params.items()}
        return cls(method=str(method), value=value, params=params)


def _finite_number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise ConfigError(f"{name} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ConfigError(f"{name} must be finite, got {v!r}")
    return f


def choose_threshold(
    train_scores: npt.ArrayLike,
    method: str = "quantile",
    *,
    q: float = 0.995,
    risk: float = 1e-3,
    init_quantile: float = 0.98,
) -> Threshold:
    """Pick a threshold from training scores with ``method`` in :data:`THRESHOLD_METHODS`.

    For ``"spot"`` the value is SPOT's initial (training) threshold; the per-point dynamic thresholds
    come from :meth:`SPOT.run` on the test scores.
    """
    if method not in THRESHOLD_METHODS:
        raise ConfigError(f"unknown threshold method {method!r}; expected one of {THRESHOLD_METHODS}")
    if method == "quantile":
        qv = _check_open_unit(q, "q")
        return Threshold("quantile", quantile_threshold(train_scores, qv), {"q": qv})
    r, iq = _check_pot_params(risk, init_quantile)
    x = _as_scores(train_scores)
    state, z = _pot_init(x, r, iq)
    params = {
        "risk": r,
        "init_quantile": iq,
        "init_level": state.t,
        "gamma": state.gamma,
        "sigma": state.sigma,
        "n_peaks": float(len(state.peaks)),
        "n_train": float(state.n),
    }
    return Threshold(method, z, params)
