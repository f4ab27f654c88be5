"""Reaction: what the center does about alerts — incidents, playbooks, enforcement exports."""

__all__: list[str] = []
