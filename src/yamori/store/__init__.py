"""Store: the columnar, compressed, time-partitioned event and alert store (Parquet files queried with DuckDB).

It owns the on-disk layout, batch writes that are atomic and idempotent by write-ahead-log position, retention,
compaction, statistics, and search (a Lucene/KQL-style language compiled to SQL, and raw SQL). It must not parse,
detect or know any input.
"""
