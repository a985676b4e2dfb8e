"""AFTM strategy service: support/resistance conditions turned into signals."""
