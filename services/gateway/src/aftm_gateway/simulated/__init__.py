"""The simulated exchange: the gateway's second broker adapter beside `pfcf/`.

A market that walks (walk.py), an order book that matches (matching.py), the exchange's own
state in its own SQLite file as a real broker's back office would be (exchange.py,
exchange_store.py), and the Broker port over it (venue.py): live (sim.py) or replaying a tick
file (replay.py).
"""
