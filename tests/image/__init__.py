"""Helpers for the tests that build and run the controller image (tests/e2e/test_image*.py)."""
