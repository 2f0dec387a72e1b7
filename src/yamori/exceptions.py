"""Every exception Yamori raises on purpose lives here, so callers can catch by family."""


class YamoriError(Exception):
    """Base class of all of Yamori's own errors."""


class RuleError(YamoriError):
    """A rule cannot be loaded, compiled or evaluated."""


class UnsupportedRuleError(RuleError):
    """A rule is valid Sigma but uses something Yamori cannot evaluate (the message says what)."""


class SourceError(YamoriError):
    """An input cannot be opened or read at all."""


class RulesUpdateError(YamoriError):
    """Downloading or verifying a rule package failed."""


class QueryError(YamoriError):
    """A search query or SQL statement is malformed or not allowed; ``position`` is where (0-based), when known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (at position {position})")
        self.reason = message
        self.position = position
