"""Alerts: detections on a member's telemetry, owned by that member.

- :mod:`~steppe.alerts.model` — deterministic ids, aggregation keys, event fingerprints,
  severity, the triage states and their moves.
- :mod:`~steppe.alerts.store` — idempotent, aggregated writes, sightings for producers,
  the Sigma sink.
- :mod:`~steppe.alerts.triage` — status, assignee, comments, history, bulk triage.
- :mod:`~steppe.alerts.queries` — reads, through :mod:`steppe.sharing.policy` only.
"""
