"""The `yamori` command: one module per command group; no detection logic lives here."""
