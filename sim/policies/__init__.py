"""Dispatch policies: strategies chosen by name from a scenario (see ``registry``)."""

from sim.policies.base import Candidates, DispatchPolicy, JobRequest, PolicyParams
from sim.policies.registry import make_policy, policy_names, register

__all__ = [
    "Candidates", "DispatchPolicy", "JobRequest", "PolicyParams",
    "make_policy", "policy_names", "register",
]
