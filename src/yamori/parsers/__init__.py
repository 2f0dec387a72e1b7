"""Parsers: turn one raw record of a format into flat Sigma field names and logsource facets.
Must not do I/O."""
