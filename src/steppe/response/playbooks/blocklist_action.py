"""The ``blocklist`` action: add the item's indicator to a blocklist of the playbook's
organisation, through :func:`steppe.response.blocklists.add_to_blocklist` — so only an
indicator the organisation may see can be added, and what a device later receives is
again filtered by who exports it.

    - type: blocklist
      blocklist: perimeter            # created on first use
      reason: "C2 seen at {alert.organisation} (run {run.id})"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from steppe.response.blocklists import add_to_blocklist
from steppe.response.playbooks.actions import Action, ActionContext, PermanentFailure
from steppe.response.playbooks.model import TriggerKind

__all__ = ["BlocklistAction"]


class BlocklistAction(Action):
    """Add the item's indicator(s) to a blocklist of the playbook's organisation."""

    type = "blocklist"
    writes = True
    triggers: ClassVar[frozenset[TriggerKind]] = frozenset({TriggerKind.ALERT, TriggerKind.INTEL})

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return ("blocklist", "reason")

    def check(self, trigger: TriggerKind) -> None:
        self.blocklist = self.spec.required_text("blocklist")
        self.reason = self.template("reason", trigger, "playbook {playbook.name}, run {run.id}")

    def run(self, ctx: ActionContext) -> Mapping[str, Any]:
        ids = [str(s) for s in ctx.item.get("indicator_ids") or ()]
        if not ids:
            raise PermanentFailure(
                "the item names no indicator the playbook's organisation may see"
            )
        added = add_to_blocklist(
            ctx.connection(), ctx.trail, ctx.actor, self.blocklist, ids,
            self.reason.render(ctx.context),
        )  # fmt: skip
        return {"blocklist": self.blocklist, "added": added, "indicators": ids}
