r"""Load generation against a live deployment: Locust users, shapes, trace replay, twin check, capacity.

The only package that imports locust or gevent, and only in ``load.plugin``, ``load.users``,
``load.state``, ``load.replay`` and ``load.http`` (the rest is plain Python, used by
``run_sim.py`` and tests).  How trace actions become requests of a particular API is a target
profile (``load.profile``, ``load/profiles/*.yaml``).  Typical use, against the reference
deployment started like the twin (its metadata holds policy, radius, clocks and seed)::

    python run_sim.py trace --scenario baseline --days 1 --out trace.parquet
    SEWAMITRA_ADMIN_TOKEN=... python -m service --port 8000 --policy-params '{"radius_km": 20}' \
        --time-scale 1440 --rate-limit 0
    SEWAMITRA_ADMIN_TOKEN=... locust -f locustfile.py --trace trace.parquet --speedup 1440 --csv out/lc
    SEWAMITRA_ADMIN_TOKEN=... python run_sim.py twin-check --trace trace.parquet \
        --service-url http://127.0.0.1:8000 --locust-csv out/lc --out out/twin
    SEWAMITRA_ADMIN_TOKEN=... python run_sim.py capacity --scenario baseline --service-url http://127.0.0.1:8000

Add ``--profile PATH`` for another API, ``--processes N`` (or ``--master`` / ``--worker``) to
spread the replay over processes; leave out ``--trace`` to drive actor users along the
scenario's booking-rate curve (reference API only).
"""
