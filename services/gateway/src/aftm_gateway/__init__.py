"""AFTM gateway: the only process that talks to the broker.

Publishes ticks and execution reports (PUB), serves order and session requests (ROUTER) with an
idempotent order journal, over a `Broker` port (broker.py) with the simulated exchange (sim.py)
and a tick-file replay (replay.py) as adapters.
"""
