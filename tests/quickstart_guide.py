"""Assemble the 0.7 Python quickstart's ``main.py`` from the guide's code blocks.

The guide (QUICKSTART_0.7.md; its code blocks are kept in
tests/fixtures/quickstart_0.7/python_blocks.json) gives ``main.py`` in pieces and says where each
goes: imports, the module_bindings imports, the globals, then every function the guide says to
add "before the register_callbacks function" (in the order the guide shows them), then
``register_callbacks``, ``on_connect`` ("defined before run_client"), ``run_client``,
``input_loop``, and the ``if __name__ == "__main__":`` block last, because Python needs the
functions defined before the main block runs. Blocks are joined by one blank line, the spacing
the guide itself uses between functions inside a block.

Run ``python -m tests.quickstart_guide`` to print the assembled file.
"""

from __future__ import annotations

import sys

from tests.conftest import REPO_ROOT, load_fixture

MAIN_PY = REPO_ROOT / "client" / "main.py"

# Blocks with a fixed place, keyed by how they start, in file order; every other block is one
# of the functions that must come before register_callbacks.
_HEAD = ("import asyncio", "import module_bindings", "input_queue = Queue()")
_TAIL = (
    "def register_callbacks(",
    "def on_connect(",
    "def run_client(",
    "def input_loop(",
    'if __name__ == "__main__":',
)


def python_blocks() -> list[str]:
    """Every ```python fenced block of the guide, in guide order, without its trailing newline."""
    blocks: list[str] = load_fixture("quickstart_0.7", "python_blocks.json")["python_blocks"]
    return blocks


def _place(blocks: list[str], start: str) -> str:
    matches = [block for block in blocks if block.startswith(start)]
    if len(matches) != 1:
        raise ValueError(f"expected one guide block starting with {start!r}, found {len(matches)}")
    return matches[0]


def assemble_main(blocks: list[str]) -> str:
    """``main.py`` exactly as the guide assembles it from its code blocks."""
    fixed = _HEAD + _TAIL
    helpers = [block for block in blocks if not block.startswith(fixed)]
    ordered = (
        [_place(blocks, start) for start in _HEAD]
        + helpers
        + [_place(blocks, start) for start in _TAIL]
    )
    if len(ordered) != len(blocks):
        raise ValueError("a guide block was used twice or lost")
    return "\n\n".join(ordered) + "\n"


def main() -> None:
    """Print the assembled main.py (used to write client/main.py)."""
    sys.stdout.write(assemble_main(python_blocks()))


if __name__ == "__main__":
    main()
