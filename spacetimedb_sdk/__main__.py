"""``python -m spacetimedb_sdk`` runs the command-line interface."""

from spacetimedb_sdk.cli import main

raise SystemExit(main())
