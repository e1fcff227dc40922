"""Python modules hosted by the local server in its tests."""
