"""What is currently wrong with the stand-in system.

Drills switch these flags; the log generators, the workload, the web app and the
host simulation read them.  Keeping them in one plain object (mutated only on the
supervisor's event loop) lets every part react to a fault without knowing which
drill caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultState:
    # Rails answers every request with a 500 (a bad deploy): /up fails too.
    service_broken: bool = False
    # The app's connection pool cannot get a connection (the DB is saturated).
    db_pool_exhausted: bool = False
    # After the DB restarted, the app's pool still holds dead connections until the
    # app is rebooted; some requests fail with PG::ConnectionBad meanwhile.
    db_pool_stale: bool = False
    # Solid Queue workers are wedged: they heartbeat but claim nothing.
    workers_stalled: bool = False
    # Jobs of this class raise when performed (None: no class fails).
    failing_job_class: str | None = None
    # Some requests wait on multi-second queries.
    slow_requests: bool = False
    # The web containers fail at boot and docker restarts them in a loop: the proxy
    # has no healthy target and answers 502.
    web_crash_loop: bool = False
    # The weather provider times out: the forecast endpoint serves its cache and
    # reports each timeout to Sentry (a new issue), requests still succeed.
    forecast_timeouts: bool = False
    # Gem versions the deployed image's Gemfile.lock pins instead of the checkout's
    # (the vulnerable-gem drill: a rack that advisories cover), by gem name.
    pinned_gems: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "service_broken": self.service_broken,
            "db_pool_exhausted": self.db_pool_exhausted,
            "db_pool_stale": self.db_pool_stale,
            "workers_stalled": self.workers_stalled,
            "failing_job_class": self.failing_job_class,
            "slow_requests": self.slow_requests,
            "web_crash_loop": self.web_crash_loop,
            "forecast_timeouts": self.forecast_timeouts,
            "pinned_gems": dict(self.pinned_gems),
        }
