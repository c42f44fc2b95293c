"""Alerts: one lifecycle, rules from health and the gateway itself, durable delivery."""
