"""API: Yamori's HTTP interface (FastAPI): ingest (JSON/NDJSON, Splunk HEC), search, alerts, status, metrics.

It owns authentication by token and role, request limits and the audit log of who did what. It must not parse or
detect: ingest endpoints hand bodies to the ingest sink as records, search endpoints call the store.
"""
