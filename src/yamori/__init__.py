"""Yamori (家守): an open-source SIEM built around a fast, complete Sigma engine."""

__version__ = "0.1.0"
