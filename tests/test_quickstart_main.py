"""client/main.py is the 0.7 guide's main.py, byte for byte, assembled as the guide says."""

from __future__ import annotations

import ast

from tests.quickstart_guide import MAIN_PY, assemble_main, python_blocks


def test_main_py_is_the_guide_assembled() -> None:
    assert MAIN_PY.read_bytes() == assemble_main(python_blocks()).encode("utf-8")


def test_every_guide_block_is_used_once() -> None:
    main_text = MAIN_PY.read_text(encoding="utf-8")
    blocks = python_blocks()
    assert len(blocks) == 14
    for block in blocks:
        assert main_text.count(block) == 1


def test_functions_are_defined_before_the_main_block() -> None:
    tree = ast.parse(MAIN_PY.read_text(encoding="utf-8"))
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert names == [
        "user_name_or_identity",
        "on_user_row_update",
        "on_message_row_update",
        "print_message",
        "on_set_name_reducer",
        "on_send_message_reducer",
        "print_messages_in_order",
        "on_subscription_applied",
        "check_commands",
        "register_callbacks",
        "on_connect",
        "run_client",
        "input_loop",
    ]
    last = tree.body[-1]
    assert isinstance(last, ast.If)
    assert ast.unparse(last.test) == "__name__ == '__main__'"
