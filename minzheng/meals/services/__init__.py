"""Writes of 智慧助餐, one module per area. Every function is keyword-only with an ``actor``, runs in
one transaction, writes an audit row per state change and publishes events on commit."""
