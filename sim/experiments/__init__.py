"""Experiments: replications with common random numbers, policy comparisons, sweeps, CIs, Dask."""

from sim.experiments.replications import METRICS, Arm, Pool, Target, replicate, replicate_until, sim_metrics
from sim.experiments.stats import Interval, mean_ci, paired_ci, reps_needed

__all__ = [
    "METRICS", "Arm", "Interval", "Pool", "Target", "mean_ci", "paired_ci", "replicate", "replicate_until",
    "reps_needed", "sim_metrics",
]
