"""End-to-end tests against the real cluster of `tests/cluster` (marked e2e)."""
