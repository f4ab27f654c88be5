"""Reaction: incidents, playbooks, exports to enforcement devices."""

__all__: list[str] = []
