"""Rules: loading Sigma rules with pySigma, converting them to Yamori's rule model, the compile cache and
`rules update`. Must not evaluate events (that is the engine's job)."""
