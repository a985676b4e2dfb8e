"""AFTM gateway: the only process that talks to the broker. Arrives with the live pipeline."""
