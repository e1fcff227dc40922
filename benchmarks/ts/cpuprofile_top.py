"""Top functions by self time in a V8 ``.cpuprofile``: ``python cpuprofile_top.py FILE [--top 25]``.

For profiling the TypeScript benchmarks (``node --cpu-prof --cpu-prof-dir DIR ...``).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def main() -> None:
    """Print the functions with the most self time, with their share of all samples."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    profile = json.loads(args.profile.read_text())
    frames = {}
    for node in profile["nodes"]:
        frame = node["callFrame"]
        where = frame["url"].rsplit("/", 1)[-1]
        frames[node["id"]] = (
            f"{frame['functionName'] or '(anonymous)'}  {where}:{frame['lineNumber'] + 1}"
        )
    deltas = profile.get("timeDeltas", [])
    self_us: Counter[str] = Counter()
    for node_id, delta in zip(profile["samples"], [*deltas[1:], 0], strict=True):
        self_us[frames[node_id]] += delta
    total = sum(self_us.values()) or 1
    print(f"{'self ms':>9} {'share':>6}  function")
    for name, us in self_us.most_common(args.top):
        print(f"{us / 1000:9.1f} {100 * us / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
