"""Alerts: the Detection record (rule, event, ATT&CK mapping) and its outputs (table, JSON lines, CSV)."""
