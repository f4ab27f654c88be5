"""Detection on members' telemetry: IOC matching and Sigma rules."""
