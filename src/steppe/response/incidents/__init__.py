"""Incidents: cases that may span members, coordinated by the center.

- :mod:`~steppe.response.incidents.model` — states, task states, timeline kinds, views.
- :mod:`~steppe.response.incidents.access` — who may read and change (the policy).
- :mod:`~steppe.response.incidents.store` — opening, status, participants, comments.
- :mod:`~steppe.response.incidents.tasks` — tasks; :mod:`.templates` — task templates.
- :mod:`~steppe.response.incidents.evidence` — evidence that keeps its own rights.
- :mod:`~steppe.response.incidents.queries` — listing and reading, the timeline.

The calls other parts of Steppe use (playbooks open incidents and add alerts)::

    >>> incident_id = open_incident(conn, trail, actor, title="C2 beaconing",
    ...                             alert_ids=[alert_id])            # doctest: +SKIP
    >>> add_participant(conn, trail, actor, incident_id, kg_id)       # doctest: +SKIP
    >>> set_status(conn, trail, actor, incident_id, "investigating")  # doctest: +SKIP
"""

from steppe.response.incidents.evidence import add_alerts
from steppe.response.incidents.store import add_participant, open_incident, set_status

__all__ = ["add_alerts", "add_participant", "open_incident", "set_status"]
