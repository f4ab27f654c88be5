"""Ways in: intelligence (feeds, MISP, free text) and telemetry (sensors, syslog, files)."""
