r"""Load generation against a live deployment: Locust users, shapes, trace replay, twin check.

The only package that imports locust or gevent (``load.twincheck``, ``load.setup``,
``load.actions``, ``load.schedule``, ``load.shape`` and ``load.slo`` do not, so
``run_sim.py`` and tests can use them).  Typical use, against the reference deployment::

    python run_sim.py trace --scenario baseline --days 1 --out trace.parquet
    SEWAMITRA_ADMIN_TOKEN=... python -m service --port 8000 --policy-params '{"radius_km": 20}' --rate-limit 0
    SEWAMITRA_ADMIN_TOKEN=... locust -f locustfile.py --trace trace.parquet --speedup 1440 --csv out/lc
    SEWAMITRA_ADMIN_TOKEN=... python run_sim.py twin-check --trace trace.parquet \
        --service-url http://127.0.0.1:8000 --locust-csv out/lc --out out/twin

Add ``--processes N`` (or ``--master`` / ``--worker``) to spread the replay over processes;
leave out ``--trace`` to drive actor users along the scenario's booking-rate curve.  Start
the deployment with the scenario's dispatch policy and parameters (the trace's metadata
holds them) or the twin check measures the difference in policy, not in implementation.
"""
