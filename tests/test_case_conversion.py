"""Case conversion matches the server's convert_case 0.6 behaviour (docs/module-def.md#case-conversion)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacetimedb_sdk.case_conversion import (
    graphemes,
    split_words,
    to_camel_case,
    to_pascal_case,
    to_snake_case,
)

# (input, snake, camel, Pascal): the server's own results, including every example in docs/module-def.md.
VECTORS = [
    ("player_1", "player_1", "player1", "Player1"),
    ("person2", "person_2", "person2", "Person2"),
    ("Person2", "person_2", "person2", "Person2"),
    ("user_id2", "user_id_2", "userId2", "UserId2"),
    ("level10Boss", "level_10_boss", "level10Boss", "Level10Boss"),
    ("vec3d", "vec_3_d", "vec3D", "Vec3D"),
    ("u8Value", "u_8_value", "u8Value", "U8Value"),
    ("snake_case_2x", "snake_case_2_x", "snakeCase2X", "SnakeCase2X"),
    ("my2FA", "my_2_fa", "my2Fa", "My2Fa"),
    ("playerId", "player_id", "playerId", "PlayerId"),
    ("player_id", "player_id", "playerId", "PlayerId"),
    ("loggedOutPlayer", "logged_out_player", "loggedOutPlayer", "LoggedOutPlayer"),
    ("test_c_nested", "test_c_nested", "testCNested", "TestCNested"),
    ("HTTPServer", "http_server", "httpServer", "HttpServer"),
    ("XMLHttpRequest", "xml_http_request", "xmlHttpRequest", "XmlHttpRequest"),
    ("IOError", "io_error", "ioError", "IoError"),
    ("ABC", "abc", "abc", "Abc"),
    ("ABCdef", "ab_cdef", "abCdef", "AbCdef"),
    ("iOS", "i_os", "iOs", "IOs"),
    ("RedApple", "red_apple", "redApple", "RedApple"),
    ("_private", "private", "private", "Private"),
    ("__init__", "init", "init", "Init"),
    ("a__b", "a_b", "aB", "AB"),
    ("kebab-case", "kebab_case", "kebabCase", "KebabCase"),
]


@pytest.mark.parametrize(("name", "snake", "camel", "pascal"), VECTORS, ids=[v[0] for v in VECTORS])
def test_spec_vectors(name: str, snake: str, camel: str, pascal: str) -> None:
    assert to_snake_case(name) == snake
    assert to_camel_case(name) == camel
    assert to_pascal_case(name) == pascal


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        # Names from the official sdk-test-case-conversion module and its generated bindings.
        ("Player1Id", "player_1_id"),
        ("currentLevel2", "current_level_2"),
        ("status3Field", "status_3_field"),
        ("Person2Id", "person_2_id"),
        ("First3Name", "first_3_name"),
        ("BanUntil6", "ban_until_6"),
        ("AddPerson2", "add_person_2"),
        ("CreatePlayer1", "create_player_1"),
        ("nickName", "nick_name"),
        ("createdAt", "created_at"),
        ("player2", "player_2"),
        ("setNickname", "set_nickname"),
        ("testATable", "test_a_table"),
        ("a b", "a_b"),
        ("", ""),
        ("_", ""),
        ("__", ""),
        ("A1B2", "a_1_b_2"),
        ("x", "x"),
    ],
)
def test_more_snake_cases(name: str, snake: str) -> None:
    assert to_snake_case(name) == snake


def test_variant_and_type_names() -> None:
    assert to_camel_case("Active1") == "active1"
    assert to_camel_case("BannedUntil") == "bannedUntil"
    assert to_pascal_case("setNickname") == "SetNickname"
    assert to_pascal_case("testC") == "TestC"


def test_upper_to_lower_alone_is_not_a_boundary() -> None:
    assert split_words("Abc") == ["Abc"]
    assert split_words("ABc") == ["A", "Bc"]
    assert split_words("aBC") == ["a", "BC"]


def test_unicode_letters_use_full_case_mapping() -> None:
    assert to_snake_case("ÜberName") == "über_name"
    assert to_pascal_case("élan_vital") == "ÉlanVital"
    assert to_camel_case("ΑλφαΒήτα") == "αλφαΒήτα"
    # Digits are ASCII only: an Arabic-Indic digit is neither upper, lower nor a digit.
    assert to_snake_case("a\u0663b") == "a\u0663b"


def test_words_are_walked_by_grapheme() -> None:
    # "e" + COMBINING ACUTE forms one lowercase grapheme, so the boundary before "N" is seen.
    assert to_snake_case("cafe\u0301Name") == "cafe\u0301_name"
    assert to_pascal_case("cafe\u0301_name") == "Cafe\u0301Name"


def test_graphemes() -> None:
    assert graphemes("abc") == ["a", "b", "c"]
    assert graphemes("e\u0301x") == ["e\u0301", "x"]
    assert graphemes("\r\n") == ["\r\n"]
    assert graphemes("\u1100\u1161\u11a8") == ["\u1100\u1161\u11a8"]  # Hangul L V T
    assert graphemes("\U0001f1e9\U0001f1ea\U0001f1eb") == ["\U0001f1e9\U0001f1ea", "\U0001f1eb"]
    assert graphemes("\U0001f469\u200d\U0001f4bb") == ["\U0001f469\u200d\U0001f4bb"]
    assert graphemes("") == []


ascii_names = st.text(alphabet="abcXYZ019_-", max_size=12)


@given(ascii_names)
def test_snake_case_is_idempotent(name: str) -> None:
    once = to_snake_case(name)
    assert to_snake_case(once) == once


def test_camel_and_pascal_are_not_always_idempotent() -> None:
    # Contrary to what one may expect, one-letter words make camel/Pascal unstable: "AX" is one
    # word, so re-converting a canonical name can change it. This is why a schema read from the
    # endpoint keeps its typespace and type names as they are (``canonical=True``).
    assert to_pascal_case("aX") == "AX"
    assert to_pascal_case("AX") == "Ax"
    assert to_camel_case("a_b_c") == "aBC"
    assert to_camel_case("aBC") == "aBc"


@given(ascii_names)
def test_snake_case_has_no_separator_runs(name: str) -> None:
    out = to_snake_case(name)
    assert "__" not in out and not out.startswith("_") and not out.endswith("_")
    assert out == out.lower()
