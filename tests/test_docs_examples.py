"""Every code block in README.md, client/README.md and docs/*.md runs as written.

Each ```python block runs in its own interpreter, each ```bash / ```sh block in its own bash, in
a scratch directory laid out like a checkout: ``server/`` (the chat module), ``client/``,
``.venv`` (this one), plus ``module_bindings/`` (the chat bindings) and ``chat.moduledef.json``.
One local server hosts ``chat`` for all of them; ``localhost:3000`` in a block is replaced by its
address and ``--port 3000`` by ``--port 0``, the only changes made to any block. A block passes
when it exits with status 0 within its timeout. The blocks run concurrently (each one is its own
process), so the whole file takes about as long as its slowest block.

An HTML comment right above a block (invisible on the rendered page) can say more:

* ``<!-- docs-test: skip REASON -->`` -- the block does not run here, and REASON says why;
* ``<!-- docs-test: continues -->`` -- the block goes on from the page's previous block of the
  same language (it runs after that one, in the same process);
* ``<!-- docs-test: expect TEXT -->`` -- the block's output must contain TEXT;
* ``<!-- docs-test: until TEXT -->`` -- a command that runs until stopped (a server): it passes
  once its output shows TEXT, and is then stopped;
* ``<!-- docs-test: cwd DIR -->`` -- run it in DIR of the scratch checkout (e.g. ``client``).

Blocks without a language (directory listings, sample output) are not code and are not run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spacetimedb_sdk.local_server import LocalServer
from tests.conftest import FIXTURES, REPO_ROOT

PAGES = [
    REPO_ROOT / "README.md",
    REPO_ROOT / "client" / "README.md",
    *sorted((REPO_ROOT / "docs").glob("*.md")),
]
LANGUAGES = {"python": "python", "bash": "bash", "sh": "bash"}
TIMEOUT = 30.0

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")
_MARKER = re.compile(
    r"^\s*<!--\s*docs-test:\s*(?P<word>skip|continues|expect|until|cwd)\b\s*(?P<rest>.*?)\s*-->\s*$"
)


@dataclass
class Block:
    """One fenced code block of a page, with what its markers say."""

    page: Path
    line: int
    lang: str
    code: str
    skip: str | None = None
    continues: bool = False
    expect: list[str] = field(default_factory=list)
    until: str | None = None
    cwd: str = "."

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT).as_posix()}:{self.line}"


def extract_blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` that have a language, in page order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, lang, start = match["indent"], match["lang"], i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1  # the closing fence
        if not lang:
            continue
        block = Block(page, start + 1, lang, "\n".join(body) + "\n")
        j = start - 1
        while j >= 0 and (marker := _MARKER.match(lines[j])) is not None:
            word, rest = marker["word"], marker["rest"]
            if word == "skip":
                block.skip = rest or "no reason given"
            elif word == "continues":
                block.continues = True
            elif word == "until":
                block.until = rest
            elif word == "cwd":
                block.cwd = rest
            else:
                block.expect.append(rest)
            j -= 1
        blocks.append(block)
    return blocks


ALL_BLOCKS = [block for page in PAGES for block in extract_blocks(page)]


def _chain(block: Block) -> str:
    """The block's code, after the blocks it continues from."""
    same = [b for b in ALL_BLOCKS if b.page == block.page and b.lang == block.lang]
    index = same.index(block)
    start = index
    while same[start].continues and start > 0:
        start -= 1
    return "\n".join(b.code for b in same[start : index + 1])


@dataclass
class Outcome:
    """How a block's run ended."""

    ok: bool
    output: str
    why: str = ""


def _environment(workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(workdir / "home"),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
    }


def _command(block: Block, address: str) -> list[str]:
    code = _chain(block).replace("localhost:3000", address).replace("--port 3000", "--port 0")
    if LANGUAGES[block.lang] == "python":
        return [sys.executable, "-c", code]
    return ["bash", "-euo", "pipefail", "-c", code]


def _run_until(block: Block, command: list[str], cwd: Path, env: dict[str, str]) -> Outcome:
    """Start a long-running block, wait for its ``until`` text, then stop it (and its children)."""
    assert block.until is not None
    log = cwd / f".docs-test-{block.line}.log"
    with log.open("w+", encoding="utf-8") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + TIMEOUT
        try:
            while time.monotonic() < deadline:
                text = log.read_text(encoding="utf-8")
                if block.until in text:
                    return Outcome(True, text)
                if proc.poll() is not None:
                    return Outcome(
                        False, log.read_text(encoding="utf-8"), f"exited {proc.returncode}"
                    )
                time.sleep(0.05)
            return Outcome(
                False, log.read_text(encoding="utf-8"), f"no {block.until!r} in {TIMEOUT} s"
            )
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def run_block(block: Block, address: str, workdir: Path) -> Outcome:
    """Run one block as the page shows it; its outcome."""
    command, cwd, env = _command(block, address), workdir / block.cwd, _environment(workdir)
    if block.until is not None:
        return _run_until(block, command, cwd, env)
    try:
        result = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return Outcome(False, str(exc.output or ""), f"did not finish within {TIMEOUT} s")
    output = result.stdout + result.stderr
    if result.returncode != 0:
        return Outcome(False, output, f"exited {result.returncode}")
    missing = [text for text in block.expect if text not in output]
    return Outcome(not missing, output, f"output lacks {missing}" if missing else "")


def _scratch_checkout(root: Path) -> None:
    """What the pages take for granted, laid out like a checkout of this repository."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO_ROOT / "server", root / "server", ignore=ignore)
    shutil.copytree(REPO_ROOT / "client", root / "client", ignore=ignore)
    shutil.copytree(
        REPO_ROOT / "client" / "module_bindings", root / "module_bindings", ignore=ignore
    )
    shutil.copy(
        FIXTURES / "module_defs" / "chat-react-ts.moduledef.json", root / "chat.moduledef.json"
    )
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (root / "home").mkdir()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every runnable block's outcome, run concurrently against one local server."""
    root = tmp_path_factory.mktemp("docs")
    runnable = [b for b in ALL_BLOCKS if b.skip is None and b.lang in LANGUAGES]
    workdirs = {b.id: root / str(n) for n, b in enumerate(runnable)}
    for workdir in workdirs.values():  # one each: blocks write files (bindings, data)
        _scratch_checkout(workdir)
    with LocalServer({"chat": REPO_ROOT / "server"}, port=0) as url:
        address = url.removeprefix("http://")
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = {b.id: pool.submit(run_block, b, address, workdirs[b.id]) for b in runnable}
            yield {name: future.result() for name, future in futures.items()}


def test_every_block_has_a_known_language() -> None:
    unknown = [
        f"{b.id} ({b.lang})" for b in ALL_BLOCKS if b.lang not in LANGUAGES and b.skip is None
    ]
    assert unknown == []


def test_every_skip_says_why() -> None:
    assert [b.id for b in ALL_BLOCKS if b.skip == "no reason given"] == []


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b.id for b in ALL_BLOCKS])
def test_block_runs(block: Block, outcomes: dict[str, Outcome]) -> None:
    if block.skip is not None:
        pytest.skip(block.skip)
    outcome = outcomes[block.id]
    assert outcome.ok, f"{block.id}: {outcome.why}:\n{outcome.output[-3000:]}"


def _connect_example() -> Block:
    page = REPO_ROOT / "docs" / "guide-client.md"
    (block,) = [b for b in ALL_BLOCKS if b.page == page and "def on_connect(" in b.code]
    return block


def test_connect_example_reaches_on_connect(outcomes: dict[str, Outcome]) -> None:
    # It once ended before on_connect ran: it printed nothing and exited 0.
    outcome = outcomes[_connect_example().id]
    assert outcome.ok and "connected as " in outcome.output, outcome.output


def test_connect_example_without_a_server(tmp_path: Path) -> None:
    # build() raises ConnectError after on_connect_error: the example must say so, not crash.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once closed
    _scratch_checkout(tmp_path)
    result = subprocess.run(
        _command(_connect_example(), closed),
        cwd=tmp_path,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    assert "could not connect:" in result.stdout
    assert "Traceback" not in result.stderr, result.stderr
