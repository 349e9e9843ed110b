"""The orch test suite (a package so `python -m tests.cluster` resolves)."""
