"""Sources: readers that turn files (EVTX, JSON, JSON lines) into Events, streaming, reporting bad input
as BadRecords. Must not know about rules."""
