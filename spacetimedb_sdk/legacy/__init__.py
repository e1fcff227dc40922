"""The machinery behind the 0.7 API (``spacetimedb_client``, ``spacetimedb_async_client``,
``client_cache``): a thin adapter over the modern client, never a second client.

* :mod:`~spacetimedb_sdk.legacy.bindings` loads a bindings package with the 0.7 rules and builds
  the :class:`~spacetimedb_sdk.client.RemoteModule` the modern connection decodes rows with;
* :mod:`~spacetimedb_sdk.legacy.translate` turns the modern core's effects into 0.7 messages
  (one per server message), which ``SpacetimeDBClient.update()`` applies and dispatches;
* :mod:`~spacetimedb_sdk.legacy.conventions` tells 0.6-style callbacks from 0.7-style ones;
* :mod:`~spacetimedb_sdk.legacy.sql` maps 0.7 table names in queries to canonical ones;
* :mod:`~spacetimedb_sdk.legacy.host` turns ``host`` + ``ssl_enabled`` into a server URI;
* :mod:`~spacetimedb_sdk.legacy.notices` says in one line why connecting failed or the
  connection was lost, and what to do;
* :mod:`~spacetimedb_sdk.legacy.process_exit` ends a program whose ``run()`` is on a background
  thread on Ctrl-C or when the connection is lost for good.
"""
