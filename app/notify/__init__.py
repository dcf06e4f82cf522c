"""Reaching members: the outbox (service), templates, providers, the sender (worker), campaigns."""
