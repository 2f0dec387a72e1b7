"""Engine: compiles rules to Python code, indexes them by logsource and literals, and matches events;
also the slow reference oracle. Must not read files or format output."""
