"""A local, SpacetimeDB-compatible server for tests (hosts Python modules; never imported by clients).

This subpackage may depend on the optional ``server`` extra (sqlglot, aiohttp, pyjwt[crypto]).
"""
