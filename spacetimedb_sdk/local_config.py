"""The 0.7 ``local_config`` helper: one INI settings file per client, usually holding the token.

Kept for code written against spacetimedb-sdk 0.7 (the Python quickstart calls
``local_config.init(".spacetimedb-python-quickstart")``, then ``get_string("auth_token")`` and
``set_string("auth_token", token)``). Files stay exactly where 0.7 put them, in the same format,
so a token saved by 0.7 is found again:

* ``<config_root>/<config_folder>/<config_file>``, by default
  ``~/.spacetime_python_sdk/settings.ini``;
* one ``[main]`` section written by :mod:`configparser` (keys lower-cased);
* ``--client N`` on the command line turns ``settings.ini`` into ``settings_N.ini`` so several
  clients, each with its own identity, can run from one home directory.

What changed from 0.7, without changing a signature: ``None`` in ``config_defaults`` (and in
``set_string``) means "not set" instead of raising ``TypeError``; values containing ``%`` are
stored verbatim (no interpolation); a file name without a dot and a trailing ``--client`` with
no value no longer crash; ``set_config`` accepts a mapping as well as ``(key, value)`` pairs; the
file is read and written as UTF-8 and saves are serialised by a lock, because the quickstart
saves from its client thread; the file holds a token, so it is written owner-only (0600, its
folder 0700 when created here) and atomically.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping

from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_CONFIG_FOLDER",
    "SECTION",
    "LocalConfigError",
    "client_config_file",
    "config",
    "get_string",
    "init",
    "set_config",
    "set_string",
    "settings_path",
]

DEFAULT_CONFIG_FOLDER = ".spacetime_python_sdk"
DEFAULT_CONFIG_FILE = "settings.ini"
SECTION = "main"
CLIENT_FLAG = "--client"

# Module globals, as in 0.7: code in the wild reads ``local_config.config`` and
# ``local_config.settings_path`` directly.
config: configparser.ConfigParser | None = None
settings_path: str | None = None

_lock = threading.RLock()


class LocalConfigError(SpacetimeDBError, RuntimeError):
    """``local_config`` was used before :func:`init`."""


def client_config_file(config_file: str, argv: list[str] | None = None) -> str:
    """The settings file name after applying the 0.7 ``--client N`` rule to ``argv``.

    0.7 splits the name on ``"."`` and rebuilds it from the first two pieces, so
    ``settings.ini`` becomes ``settings_N.ini`` (and ``a.b.ini`` becomes ``a_N.b``: kept, so
    such files are still found). A name without a dot gets ``_N`` appended; ``--client`` as the
    last argument is ignored.
    """
    args = sys.argv if argv is None else argv
    if CLIENT_FLAG not in args:
        return config_file
    index = args.index(CLIENT_FLAG)
    if index + 1 >= len(args):
        return config_file
    client = args[index + 1]
    pieces = config_file.split(".")
    if len(pieces) < 2:
        return f"{config_file}_{client}"
    return f"{pieces[0]}_{client}.{pieces[1]}"


def _new_parser() -> configparser.ConfigParser:
    # interpolation=None: a '%' in a token or key must not raise (0.7 crashed on it).
    return configparser.ConfigParser(interpolation=None)


def init(
    config_folder: str | None = None,
    config_file: str | None = None,
    config_root: str | None = None,
    config_defaults: Mapping[str, object] | None = None,
) -> None:
    """Choose the settings file and load it.

    ``config_root`` defaults to the home directory, ``config_folder`` to
    ``.spacetime_python_sdk`` and ``config_file`` to ``settings.ini`` (with the ``--client N``
    rule applied). When the file exists it is read and ``config_defaults`` is ignored, as in
    0.7; otherwise the defaults are kept in memory (``None`` values are skipped) and nothing is
    written until the first ``set_string``/``set_config``.
    """
    global config, settings_path
    root = os.path.expanduser("~") if config_root is None else config_root
    folder = DEFAULT_CONFIG_FOLDER if config_folder is None else config_folder
    file_name = client_config_file(DEFAULT_CONFIG_FILE if config_file is None else config_file)
    path = os.path.join(root, folder, file_name)

    parser = _new_parser()
    if os.path.exists(path):
        parser.read(path, encoding="utf-8")
        if not parser.has_section(SECTION):
            parser.add_section(SECTION)
    else:
        parser.add_section(SECTION)
        if config_defaults is not None:
            for key, value in config_defaults.items():
                if value is not None:
                    parser.set(SECTION, key, str(value))
    with _lock:
        config = parser
        settings_path = path


def _require_config() -> configparser.ConfigParser:
    if config is None:
        raise LocalConfigError("local_config.init() must be called before reading or writing")
    return config


def get_string(key: str) -> str | None:
    """The value stored under ``key`` (case-insensitive), or ``None`` when it is not set."""
    with _lock:
        parser = _require_config()
        return parser.get(SECTION, key, fallback=None)


def set_string(key: str, value: str | None) -> None:
    """Store ``value`` under ``key`` and save the file at once (``None`` removes the key)."""
    with _lock:
        parser = _require_config()
        _store(parser, key, value)
        _save()


def set_config(config_in: Mapping[str, object] | Iterable[tuple[str, object]]) -> None:
    """Store several values and save once; accepts a mapping or ``(key, value)`` pairs."""
    items = config_in.items() if isinstance(config_in, Mapping) else config_in
    with _lock:
        parser = _require_config()
        for key, value in items:
            _store(parser, key, value)
        _save()


def _store(parser: configparser.ConfigParser, key: str, value: object) -> None:
    if value is None:
        parser.remove_option(SECTION, key)
    else:
        parser.set(SECTION, key, str(value))


def _save() -> None:
    """Write the settings file, creating its folders (0.7's private helper, kept by name)."""
    with _lock:
        parser = _require_config()
        if settings_path is None:
            raise LocalConfigError("local_config.init() must be called before saving")
        directory = os.path.dirname(settings_path) or "."
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # The file holds a token: it is owner-only from creation (mkstemp makes it 0600), and
        # written beside the old one then renamed over it, so a crash mid-save loses nothing.
        fd, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(settings_path)}.", suffix=".tmp", dir=directory
        )
        try:
            os.chmod(temporary, 0o600)  # mkstemp's mode already; explicit for other platforms
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                parser.write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, settings_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
