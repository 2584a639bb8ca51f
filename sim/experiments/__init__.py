"""Experiments: replications with common random numbers, policy comparisons, sweeps, CIs, Dask."""

from sim.experiments.replications import (
    METRICS,
    Arm,
    Pool,
    Precision,
    parse_precision,
    replicate,
    replicate_until,
    sim_metrics,
)
from sim.experiments.stats import Interval, mean_ci, paired_ci, reps_needed
from sim.experiments.study import StudyResult, StudySpec, run_study, write_study

__all__ = [
    "METRICS", "Arm", "Interval", "Pool", "Precision", "StudyResult", "StudySpec", "mean_ci", "paired_ci",
    "parse_precision", "replicate", "replicate_until", "reps_needed", "run_study", "sim_metrics", "write_study",
]
