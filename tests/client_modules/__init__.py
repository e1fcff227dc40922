"""Module definitions used by the client runtime's tests (tests/test_client_*.py)."""
