"""Reaction: what Steppe does once intel and alerts call for it (exports to enforcement
devices, blocklists, incidents, playbooks)."""

__all__: list[str] = []
