"""(being built for issue 11 — see /work/brief-issue11.md): request ids and /metrics."""

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add request ids and Prometheus metrics to ``app``."""
