"""The repository stands alone and its modules stay readable.

* Docstrings and comments cite documents that are in the repository: no spec file kept
  elsewhere (``PROTOCOL.md``, the reference folder beside a checkout), no bare ``§`` section numbers of such a spec,
  and every ``docs/<page>.md#<anchor>`` names an existing page and heading.
* No module of the package is longer than 1,000 lines (one concept per module).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "spacetimedb_sdk"
#: Where citations are checked: the package and everything shipped beside it but tests/.
CITING_DIRS = ("spacetimedb_sdk", "benchmarks", "scripts", "examples", "docs")
SKIPPED_PARTS = frozenset({".venv", "node_modules", "__pycache__", ".git", "build"})
TEXT_SUFFIXES = frozenset({".py", ".md", ".sh", ".toml", ".txt", ".ts", ".js"})

MAX_MODULE_LINES = 1000
#: Modules still waiting for their split (issue 11, "one concept per module"). Empty the list
#: as the splits land: a listed file that fits the limit (or is gone) fails the test.
PENDING_SPLITS: frozenset[str] = frozenset()

SPEC_NAME = re.compile(r"\b[A-Z][A-Z0-9_]*(?:\.[0-9A-Z_]+)*\.md\b")
# Spelt in two pieces so that this checker does not match itself.
OUTSIDE_PATH = re.compile(r"\.\./" + r"shared\b|\bshared/" + r"spec\b")
DOC_LINK = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?")


def _files(root: Path, dirs: tuple[str, ...]) -> Iterator[Path]:
    for name in dirs:
        base = root / name
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if (
                path.is_file()
                and path.suffix in TEXT_SUFFIXES
                and SKIPPED_PARTS.isdisjoint(path.relative_to(root).parts)
            ):
                yield path


def _repository_file_names(root: Path) -> set[str]:
    names: set[str] = set()
    for path in root.rglob("*"):
        if path.is_file() and SKIPPED_PARTS.isdisjoint(path.relative_to(root).parts):
            names.add(path.name)
    return names


def _slug(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rules) gives a heading."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        match = re.match(r"#{1,6}\s+(.*)", line)
        if in_code or match is None:
            continue
        slug = _slug(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def dangling_citations(root: Path) -> list[str]:
    """``path:line: problem`` for every citation that leads outside the repository."""
    in_repo = _repository_file_names(root)
    anchors: dict[str, set[str] | None] = {}
    problems: list[str] = []
    for path in _files(root, CITING_DIRS):
        rel = path.relative_to(root)
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines, 1):
            where = f"{rel}:{number}"
            problems.extend(
                f"{where}: {name} is not in the repository"
                for name in SPEC_NAME.findall(line)
                if name not in in_repo
            )
            if OUTSIDE_PATH.search(line):
                problems.append(f"{where}: points outside the repository")
            if "§" in line:
                problems.append(f"{where}: a bare § section names no document of the repository")
            for page, anchor in DOC_LINK.findall(line):
                if page not in anchors:
                    doc = root / "docs" / page
                    anchors[page] = _anchors(doc) if doc.is_file() else None
                found = anchors[page]
                if found is None:
                    problems.append(f"{where}: docs/{page} does not exist")
                elif anchor and anchor not in found:
                    problems.append(f"{where}: docs/{page} has no heading #{anchor}")
    return problems


def oversized_modules(root: Path) -> list[str]:
    """``path (n lines)`` for every package module over the limit, pending splits aside."""
    out = []
    for path in _files(root, ("spacetimedb_sdk",)):
        rel = path.relative_to(root).as_posix()
        if path.suffix != ".py" or rel in PENDING_SPLITS:
            continue
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_MODULE_LINES:
            out.append(f"{rel} ({count} lines)")
    return out


def test_citations_stay_inside_the_repository() -> None:
    problems = dangling_citations(REPO_ROOT)
    assert not problems, "cite docs/protocol.md or docs/module-def.md instead:\n" + "\n".join(
        problems
    )


def test_the_reference_pages_have_the_anchors_the_code_cites() -> None:
    # The check above only means something if it sees the citations and the headings.
    cited = {
        (page, anchor)
        for path in _files(REPO_ROOT, ("spacetimedb_sdk",))
        for page, anchor in DOC_LINK.findall(path.read_text(encoding="utf-8"))
    }
    assert ("protocol.md", "identity-derivation") in cited
    assert ("module-def.md", "canonicalisation") in cited
    assert "identity-derivation" in _anchors(REPO_ROOT / "docs" / "protocol.md")
    assert _slug("Messages (v2)") == "messages-v2"
    assert _slug("Other differences from 0.7") == "other-differences-from-07"


def test_no_module_exceeds_the_line_limit() -> None:
    oversized = oversized_modules(REPO_ROOT)
    assert not oversized, f"split these along their concepts (max {MAX_MODULE_LINES} lines): " + (
        ", ".join(oversized)
    )


def test_pending_splits_are_still_pending() -> None:
    # Keeps PENDING_SPLITS from outliving the work it waits for.
    done = []
    for rel in sorted(PENDING_SPLITS):
        path = REPO_ROOT / rel
        if not path.is_file() or len(path.read_text(encoding="utf-8").splitlines()) <= (
            MAX_MODULE_LINES
        ):
            done.append(rel)
    assert not done, f"remove from PENDING_SPLITS (split or gone): {done}"
