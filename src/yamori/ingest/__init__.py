"""Ingest: what happens between an input receiving bytes and the store holding events.

It owns the write-ahead log (an event acknowledged to a sender is on disk), the record format inputs append to
it, ingest filtering (drop, keep, sample per source) and the pipeline that reads the log, parses, filters, detects
and stores. It must not know any network protocol: inputs (``yamori.sources``, ``yamori.api``) hand it records.
"""
