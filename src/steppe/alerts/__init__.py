"""Alerts: detections on a member's telemetry, owned by that member.

- :mod:`~steppe.alerts.model` — deterministic ids, event fingerprints, severity.
- :mod:`~steppe.alerts.store` — idempotent writes, sightings for producers, the Sigma sink.
- :mod:`~steppe.alerts.queries` — reads, through :mod:`steppe.sharing.policy` only.
"""
