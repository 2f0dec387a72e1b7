"""Operations: Prometheus metrics, health and status of a running ``yamori serve``.

It owns the metric definitions every stage updates; it must not hold pipeline logic.
"""
