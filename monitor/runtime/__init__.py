"""The running daemon: engine, scheduler, leases, source health, ingest, outbox, metrics, logs."""
