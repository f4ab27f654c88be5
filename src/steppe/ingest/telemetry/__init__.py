"""Telemetry from members' sensors: parsers, normalisation to ECS, the ways events arrive."""
