"""Load generation against a live deployment: Locust users, shapes, trace replay, twin check.

The only package that imports locust or gevent (``load.twincheck`` does not, so ``run_sim.py`` can use it).
"""
