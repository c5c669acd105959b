"""The incident clock tells the truth: it runs from detection while the incident is
open, and stops at mitigation — a resolved incident shows how long it took, never
OVERDUE nor the next rung of the ladder, by the record's corrected times."""

from __future__ import annotations

from datetime import timedelta

from rainbow_tui.incidents.model import Incident, edit_time, transition
from rainbow_tui.incidents.model import new_incident as open_incident
from rainbow_tui.text import set_language
from rainbow_tui.wizard import describe_clock, incident_clock
from tests.helpers.incidents import POSTMORTEM_CONFIG, RUNBOOKS, T0, make_alert

CONFIG = POSTMORTEM_CONFIG


def _opened() -> Incident:
    """A Critical service outage detected at T0 (respond within 15 minutes)."""
    return open_incident(
        runbook=RUNBOOKS.runbooks["service-down"], alert=make_alert(), at=T0, author="ops"
    )


def _advanced(incident: Incident, *steps: tuple[str, float]) -> Incident:
    for status, minutes in steps:
        incident = incident.with_event(
            transition(incident, status, at=T0 + timedelta(minutes=minutes), author="ops")  # type: ignore[arg-type]
        )
    return incident


def _resolved_at_12() -> Incident:
    return _advanced(_opened(), ("acknowledged", 2), ("mitigated", 9), ("resolved", 12))


def test_an_open_incident_counts_up_to_its_deadline_and_names_the_next_rung() -> None:
    incident = _opened()
    early = describe_clock(incident_clock(incident, CONFIG, T0 + timedelta(minutes=5)))
    assert early.startswith("5m00s since detection / respond within 15m00s")
    assert "L1 オンコール担当 / On-call in 10m00s" in early
    assert "OVERDUE" not in early
    late = incident_clock(incident, CONFIG, T0 + timedelta(minutes=20))
    assert late.overdue
    assert "OVERDUE" in describe_clock(late)
    assert "L2 開発リード / Development lead in 10m00s" in describe_clock(late)


def test_a_resolved_incident_shows_its_times_never_overdue_nor_a_next_rung() -> None:
    incident = _resolved_at_12()
    # Fifteen minutes after the resolve, and hours later: the same line each time.
    for minutes in (27, 12 + 15, 240):
        clock = incident_clock(incident, CONFIG, T0 + timedelta(minutes=minutes))
        line = describe_clock(clock)
        assert line == "mitigated in 9m00s · resolved in 12m00s", line
        assert not clock.overdue
        assert clock.next_rung is None and clock.next_in is None


def test_a_mitigated_incident_stops_its_clock_and_climbs_no_further() -> None:
    incident = _advanced(_opened(), ("acknowledged", 2), ("mitigated", 20))
    first = incident_clock(incident, CONFIG, T0 + timedelta(minutes=25))
    later = incident_clock(incident, CONFIG, T0 + timedelta(minutes=90))
    assert first == later
    assert first.elapsed == timedelta(minutes=20)
    # Mitigated after the 15-minute deadline: that is history now, not OVERDUE.
    assert not first.overdue
    assert describe_clock(first) == "mitigated in 20m00s"


def test_a_corrected_time_counts() -> None:
    incident = _resolved_at_12()
    mitigated = next(e for e in incident.events if getattr(e, "status", "") == "mitigated")
    detected = incident.events[0]
    corrected = incident.with_event(
        edit_time(incident, mitigated.id, T0 + timedelta(minutes=7), "the restart ended at 03:19",
                  at=T0 + timedelta(minutes=30), author="ops")
    )
    corrected = corrected.with_event(
        edit_time(corrected, detected.id, T0 - timedelta(minutes=3), "errors began earlier",
                  at=T0 + timedelta(minutes=31), author="ops")
    )
    line = describe_clock(incident_clock(corrected, CONFIG, T0 + timedelta(minutes=40)))
    assert line == "mitigated in 10m00s · resolved in 15m00s"


def test_the_stopped_clock_in_japanese() -> None:
    incident = _resolved_at_12()
    set_language("ja")  # the suite's fixture puts the language back afterwards
    line = describe_clock(incident_clock(incident, CONFIG, T0 + timedelta(minutes=27)))
    assert line == "緩和まで 9分00秒 · 解決まで 12分00秒"
