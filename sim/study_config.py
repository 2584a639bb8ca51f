"""The ``calibration:`` block of a scenario: which parameters a calibration may move, and how far."""

from __future__ import annotations

from pydantic import Field, field_validator

from sim.schema import StrictModel


class CalibrationConfig(StrictModel):
    """Parameters to fit (dotted scenario keys) with their bounds.

    ``params`` maps a key such as ``demand.bookings_per_year`` to ``[low, high]``; keys in
    ``log_scale`` are searched on a log scale.  ``sim.calibration`` and the ``calibrate``
    command read this block (``--params`` overrides it).
    """

    params: dict[str, tuple[float, float]] = Field(default_factory=dict)
    log_scale: tuple[str, ...] = ()
    anchors: str = Field("anchors", description="anchor file: a name in scenarios/ or a path")

    @field_validator("params")
    @classmethod
    def _bounds(cls, v: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for k, (lo, hi) in v.items():
            if not lo < hi:
                raise ValueError(f"{k}: low must be below high")
        return v
