"""Sigma correlation: rules over many detections (counts, distinct values, metrics, sequences) per group and window.

Stage between the engine (single-event detections) and the alerts: ``model`` holds the rules, ``convert``
builds them from pySigma, ``ruleset`` resolves their references, ``windows`` evaluates one group's window and
``correlator`` streams detections through them, the same way for ``yamori hunt`` and ``yamori serve``.
Semantics, including every choice the specification leaves open: docs/correlation.md.
"""
