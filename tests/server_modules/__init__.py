"""Python modules hosted by the local-server tests (loaded by file path, never imported)."""
