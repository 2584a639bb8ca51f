"""The per-process state of a server: settings, database, reference data, dispatcher, tokens."""

from __future__ import annotations

from dataclasses import dataclass

from service.auth import TokenBook
from service.config import ServiceConfig
from service.db import Database
from service.dispatch import Dispatcher
from service.reference import Reference, load_reference
from sim.policies import make_policy
from sim.seeds import Streams


@dataclass
class Context:
    """Everything a request handler needs; built once per server process."""

    cfg: ServiceConfig
    db: Database
    ref: Reference
    disp: Dispatcher
    tokens: TokenBook

    @classmethod
    def build(cls, cfg: ServiceConfig, create: bool = True) -> Context:
        """Connect, create the schema if missing, and bind the dispatch policy."""
        database = Database(cfg.db)
        epoch = database.create_schema() if create else 0.0
        policy = make_policy(cfg.policy, cfg.policy_params)
        policy.bind(Streams(cfg.seed)["choices"])
        ref = load_reference(cfg.scenario)
        return cls(cfg, database, ref, Dispatcher(policy, epoch, ref.rating_prior),
                   TokenBook(database, cfg.admin_token, cfg.allow_reset))
