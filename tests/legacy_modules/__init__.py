"""Server modules used by the 0.7-layer tests."""
