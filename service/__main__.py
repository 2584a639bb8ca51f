"""Start the reference deployment: ``python -m service [--host H] [--port P] [--db URL] [--workers N]``.

``python -m service migrate [--db URL]`` only migrates the schema; a server migrates it at start.
The admin token comes from ``SEWAMITRA_ADMIN_TOKEN``, else one is generated and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from sim.errors import InputError


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--db", default=os.environ.get("SEWAMITRA_DB_URL", "sqlite:///sewamitra.db"),
                   help="sqlite:///file.db (default) or postgresql+psycopg://user@host/db")
    p.add_argument("--workers", type=int, default=1, help="server processes")
    p.add_argument("--policy", default=os.environ.get("SEWAMITRA_POLICY"),
                   help="dispatch policy; default: the scenario's")
    p.add_argument("--policy-params", help="policy parameters (JSON); default: the scenario's (for its policy)")
    p.add_argument("--scenario", default="baseline", help="scenario giving categories and prices")
    p.add_argument("--seed", type=int, help="seed of the policy's random stream; default: the scenario's")
    p.add_argument("--rate-limit", type=float, default=200.0, help="requests/s per caller; 0 = off")
    p.add_argument("--rate-burst", type=float, default=400.0, help="burst per caller [requests]")
    p.add_argument("--commission-bp", type=int, default=1000, help="platform commission [basis points]")
    p.add_argument("--offer-timeout-min", type=float, help="offer time-out [minutes]; default: the scenario's")
    p.add_argument("--max-offers", type=int, help="offers before a booking ends unfulfilled; default: the scenario's")
    p.add_argument("--retry-interval-min", type=float, help="retry of pending bookings [minutes]; default: scenario")
    p.add_argument("--max-search-min", type=float, help="unfulfilled after this long [minutes]; default: scenario")
    p.add_argument("--settlement-days", type=float, help="payout settlement T+n [days]; default: the scenario's")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="deployment minutes per wall-clock minute for the clocks (a replay's --speedup)")
    p.add_argument("--allow-reset", action="store_true", help="enable POST /v1/admin/reset")
    p.add_argument("--log-level", default="warning")
    return p.parse_args(argv)


def migrate(argv: list[str]) -> int:
    """``python -m service migrate [--db URL]``: bring the schema to the newest revision."""
    p = argparse.ArgumentParser(prog="python -m service migrate", description=migrate.__doc__)
    p.add_argument("--db", default=os.environ.get("SEWAMITRA_DB_URL", "sqlite:///sewamitra.db"))
    args = p.parse_args(argv)
    from service.db import Database
    from service.migrate import upgrade

    try:
        database = Database(args.db)
        before, now = upgrade(database.engine)
        database.dispose()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - e.g. the database is unreachable: one line, exit 2
        print(f"error: db: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        return 2
    print(f"schema at revision {now}" + ("" if before == now else f" (was {before or 'empty'})"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Validate, migrate the schema once, then hand over to uvicorn."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["migrate"]:
        return migrate(argv[1:])
    args = parse(argv)
    from service.config import ADMIN_TOKEN_ENV, build
    from service.db import Database

    try:
        if args.workers < 1 or not 0 < args.port < 65536:
            raise InputError("--workers/--port: out of range")
        try:
            params = None if args.policy_params is None else json.loads(args.policy_params)
        except json.JSONDecodeError as e:
            raise InputError(f"--policy-params: not JSON ({e.msg})") from None
        cfg = build({
            "db": args.db, "admin_token": os.environ.get(ADMIN_TOKEN_ENV, ""), "policy": args.policy,
            "policy_params": params, "scenario": args.scenario, "seed": args.seed,
            "allow_reset": args.allow_reset, "rate_per_s": args.rate_limit, "rate_burst": args.rate_burst,
            "commission_bp": args.commission_bp, "offer_timeout_min": args.offer_timeout_min,
            "max_offers": args.max_offers, "retry_interval_min": args.retry_interval_min,
            "max_search_min": args.max_search_min, "settlement_delay_days": args.settlement_days,
            "time_scale": args.time_scale,
        })
        from service.reference import load_reference

        load_reference(cfg.scenario)
        database = Database(cfg.db)
        database.create_schema()
        database.dispose()
    except (InputError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - e.g. the database is unreachable: one line, exit 2
        print(f"error: db: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        return 2
    if not os.environ.get(ADMIN_TOKEN_ENV):
        print(f"admin token: {cfg.admin_token}", flush=True)
    os.environ.update(cfg.to_env())
    import uvicorn

    uvicorn.run("service.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=args.log_level, access_log=False, proxy_headers=False)  # clients connect directly
    return 0


if __name__ == "__main__":
    sys.exit(main())
