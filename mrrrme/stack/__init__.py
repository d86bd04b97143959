"""The embedded stack: NATS and Redis when none is configured, and the supervisor of `make run`."""
