"""Alert handling after detection: context, noise control, risk, incidents, notifications and playbooks.

Every stage takes and returns a ``TriageAlert`` (``yamori.triage.model``); relational state (incidents,
exceptions, verdicts, the action log) lives in one SQLAlchemy database (``yamori.triage.db``).
"""
