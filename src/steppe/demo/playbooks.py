"""The demo's playbook: a C2 domain seen by two CSTO members becomes one incident the
center coordinates with both of them.

The playbook is a file in the demo folder (``playbooks/``), run once by ``steppe demo``
and in the background by the demo's server, like any other.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_PLAYBOOK", "DEMO_PLAYBOOK_NAME", "SHARED_BY", "write_demo_playbook"]

DEMO_PLAYBOOK_NAME = "csto-shared-c2"
#: The two members whose sensors both touch the domain in the sample telemetry.
SHARED_BY = ("KZ-CERT", "KG-CERT")

DEMO_PLAYBOOK = f"""\
name: {DEMO_PLAYBOOK_NAME}
owner: Regional Center
description: >
  A C2 domain hit at both KZ-CERT and KG-CERT becomes one incident that the center
  coordinates with the two of them; each sees its own alerts as evidence, not the other's.
trigger:
  type: alert
  backfill: 1h
  conditions:
    organisation: [{", ".join(SHARED_BY)}]
    observed: "*book.flnet.org"
actions:
  - type: extend-incident
    title: "C2 {{alert.observed}} contacted from KZ-CERT and KG-CERT"
    severity: high
    participants: [{", ".join(SHARED_BY)}]
    coordinated: true
    group_by: "c2:{{alert.observed}}"
    window: 1d
"""


def write_demo_playbook(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{DEMO_PLAYBOOK_NAME}.yml"
    path.write_text(DEMO_PLAYBOOK)
    return path
