"""spacetimedb_sdk.local_config: 0.7 file locations, INI format, --client N, and the fixes."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from spacetimedb_sdk import local_config


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["main.py"])
    monkeypatch.setattr(local_config, "config", None)
    monkeypatch.setattr(local_config, "settings_path", None)


def test_default_location_and_format(tmp_path: Path) -> None:
    local_config.init()
    assert local_config.settings_path == str(tmp_path / ".spacetime_python_sdk" / "settings.ini")
    assert local_config.get_string("auth_token") is None
    assert not (tmp_path / ".spacetime_python_sdk").exists()  # nothing written before set_*

    local_config.set_string("auth_token", "tok.en")
    text = (tmp_path / ".spacetime_python_sdk" / "settings.ini").read_text(encoding="utf-8")
    assert text == "[main]\nauth_token = tok.en\n\n"


def test_quickstart_folder(tmp_path: Path) -> None:
    local_config.init(".spacetimedb-python-quickstart")
    local_config.set_string("auth_token", "abc")
    assert (tmp_path / ".spacetimedb-python-quickstart" / "settings.ini").exists()


def test_value_survives_reinit() -> None:
    local_config.init(".q")
    local_config.set_string("auth_token", "first")
    local_config.init(".q")
    assert local_config.get_string("auth_token") == "first"


def test_reads_a_file_written_by_0_7(tmp_path: Path) -> None:
    folder = tmp_path / ".spacetimedb-python-quickstart"
    folder.mkdir()
    (folder / "settings.ini").write_text("[main]\nauth_token = eyJ0eXAi.x.y\n\n", encoding="utf-8")
    local_config.init(".spacetimedb-python-quickstart")
    assert local_config.get_string("auth_token") == "eyJ0eXAi.x.y"


@pytest.mark.parametrize(
    ("argv", "config_file", "expected"),
    [
        (["main.py", "--client", "2"], None, "settings_2.ini"),
        (["main.py", "--client", "ai"], "settings_ai_agent.ini", "settings_ai_agent_ai.ini"),
        (["main.py", "--verbose", "--client", "3", "x"], "s.ini", "s_3.ini"),
        (["main.py", "--client", "2"], "a.b.ini", "a_2.b"),  # 0.7 keeps two pieces
        (["main.py", "--client", "2"], "settings", "settings_2"),  # 0.7: IndexError
        (["main.py", "--client"], None, "settings.ini"),  # 0.7: IndexError
        (["main.py"], None, "settings.ini"),
    ],
)
def test_client_flag(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    config_file: str | None,
    expected: str,
) -> None:
    monkeypatch.setattr("sys.argv", argv)
    local_config.init(".f", config_file)
    assert local_config.settings_path == str(tmp_path / ".f" / expected)


def test_separate_clients_keep_separate_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    local_config.init(".q")
    local_config.set_string("auth_token", "one")
    monkeypatch.setattr("sys.argv", ["main.py", "--client", "2"])
    local_config.init(".q")
    assert local_config.get_string("auth_token") is None
    local_config.set_string("auth_token", "two")
    monkeypatch.setattr("sys.argv", ["main.py"])
    local_config.init(".q")
    assert local_config.get_string("auth_token") == "one"


def test_defaults_used_only_without_a_file() -> None:
    local_config.init(".d", config_defaults={"model": "gpt", "key": None, "n": 3})
    assert local_config.get_string("model") == "gpt"
    assert local_config.get_string("key") is None  # 0.7 raised TypeError here
    assert local_config.get_string("n") == "3"
    local_config.set_string("auth", "t")
    local_config.init(".d", config_defaults={"model": "other"})
    assert local_config.get_string("model") == "gpt"  # the file wins, as in 0.7


def test_config_root(tmp_path: Path) -> None:
    root = tmp_path / "elsewhere"
    local_config.init(".r", "c.ini", str(root))
    local_config.set_string("k", "v")
    assert (root / ".r" / "c.ini").exists()


def test_keys_are_case_insensitive_and_written_lower_case(tmp_path: Path) -> None:
    local_config.init(".k")
    local_config.set_string("Auth_Token", "x")
    assert local_config.get_string("auth_token") == "x"
    assert local_config.get_string("AUTH_TOKEN") == "x"
    assert "auth_token = x" in (tmp_path / ".k" / "settings.ini").read_text(encoding="utf-8")


def test_percent_is_stored_verbatim() -> None:
    local_config.init(".p")
    local_config.set_string("secret", "100%(x)s done%")
    local_config.init(".p")
    assert local_config.get_string("secret") == "100%(x)s done%"


def test_set_config_pairs_and_mapping() -> None:
    local_config.init(".s")
    local_config.set_config([("a", "1"), ("b", "2")])
    local_config.set_config({"c": "3", "a": None})
    local_config.init(".s")
    assert [local_config.get_string(k) for k in "abc"] == [None, "2", "3"]


def test_set_string_none_removes() -> None:
    local_config.init(".n")
    local_config.set_string("a", "1")
    local_config.set_string("a", None)
    assert local_config.get_string("a") is None


def test_file_without_main_section(tmp_path: Path) -> None:
    folder = tmp_path / ".e"
    folder.mkdir()
    (folder / "settings.ini").write_text("", encoding="utf-8")
    local_config.init(".e")
    assert local_config.get_string("auth_token") is None
    local_config.set_string("auth_token", "t")
    parser = configparser.ConfigParser()
    parser.read(folder / "settings.ini")
    assert parser["main"]["auth_token"] == "t"


def test_use_before_init_raises() -> None:
    with pytest.raises(local_config.LocalConfigError):
        local_config.get_string("auth_token")
    with pytest.raises(local_config.LocalConfigError):
        local_config.set_string("auth_token", "x")


def test_settings_file_is_owner_only(tmp_path: Path) -> None:
    import os
    import stat

    old_umask = os.umask(0o022)  # the usual umask, under which plain open() gives 0644
    try:
        local_config.init(".spacetimedb-python-quickstart")
        local_config.set_string("auth_token", "secret")
    finally:
        os.umask(old_umask)
    path = tmp_path / ".spacetimedb-python-quickstart" / "settings.ini"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.ini"]  # no temporaries


def test_a_world_readable_file_from_before_becomes_owner_only(tmp_path: Path) -> None:
    import os
    import stat

    folder = tmp_path / ".spacetime_python_sdk"
    folder.mkdir(mode=0o755)
    path = folder / "settings.ini"
    path.write_text("[main]\nauth_token = old\n", encoding="utf-8")
    os.chmod(path, 0o644)
    local_config.init()
    local_config.set_string("auth_token", "new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "auth_token = new" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in folder.iterdir()) == ["settings.ini"]


def test_a_failed_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local_config.init()
    local_config.set_string("auth_token", "kept")
    path = tmp_path / ".spacetime_python_sdk" / "settings.ini"
    before = path.read_text(encoding="utf-8")

    def broken_write(self: configparser.ConfigParser, handle: object, *args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(configparser.ConfigParser, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        local_config.set_string("auth_token", "lost")
    assert path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.ini"]
