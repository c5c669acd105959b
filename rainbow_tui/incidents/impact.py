"""The incident's impact in figures, from what the record holds: how long the service
was hurt, and the error rate and requests from the findings recorded at the start
(declare) and at mitigated and resolved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rainbow_tui.incidents.model import Evidence, Incident, IncidentStatus

__all__ = ["ERROR_RATE", "Impact", "impact_of", "reading_of"]

ERROR_RATE = "error_rate_percent"
P95 = "response_time_p95_ms"


def reading_of(evidence: Evidence, metric: str) -> float | None:
    """The worst reading of ``metric`` in the snapshot (any component)."""
    values = [r.value for r in evidence.readings if r.key.rsplit(":", 1)[-1] == metric]
    return max(values) if values else None


@dataclass(frozen=True)
class Impact:
    to_mitigate: timedelta | None
    to_resolve: timedelta | None
    # Each recorded moment's figures, in order: declared (detected), mitigated, resolved.
    error_rate: tuple[tuple[IncidentStatus, float], ...]
    p95_ms: tuple[tuple[IncidentStatus, float], ...]
    requests_at_declare: int | None
    failed_at_declare: int | None  # requests × error rate, rounded

    @property
    def has_figures(self) -> bool:
        return bool(self.error_rate or self.p95_ms or self.requests_at_declare)


def impact_of(incident: Incident) -> Impact:
    times = incident.status_times()
    detected = times.get("detected", incident.opened_at)
    mitigated, resolved = times.get("mitigated"), times.get("resolved")
    snapshots = incident.metrics_snapshots()
    error_rate: list[tuple[IncidentStatus, float]] = []
    p95: list[tuple[IncidentStatus, float]] = []
    for status, evidence in snapshots:
        if (rate := reading_of(evidence, ERROR_RATE)) is not None:
            error_rate.append((status, rate))
        if (latency := reading_of(evidence, P95)) is not None:
            p95.append((status, latency))
    declared = next((e for status, e in snapshots if status == "detected"), None)
    requests = declared.requests if declared is not None else None
    rate_at_declare = reading_of(declared, ERROR_RATE) if declared is not None else None
    failed = (
        round(requests * rate_at_declare / 100)
        if requests is not None and rate_at_declare is not None
        else None
    )
    return Impact(
        to_mitigate=mitigated - detected if mitigated is not None else None,
        to_resolve=resolved - detected if resolved is not None else None,
        error_rate=tuple(error_rate),
        p95_ms=tuple(p95),
        requests_at_declare=requests,
        failed_at_declare=failed,
    )
