"""Where a process spent its CPU, from py-spy's collapsed stacks.

Why: `py-spy record --format raw` writes one line per distinct stack (`frame;frame;...
COUNT`, outermost first) and nothing that ranks functions. This ranks them two ways:
self (the sampled frame itself) and inclusive (anywhere on the stack, once per
sample), by function and file, line numbers dropped.

    python -m benchmarks.profile_top FILE [--top 25] [--under controller/]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_key(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file.py)`, shortened to the path from
    `site-packages/` or the repository on."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        for top in ("controller/", "compiler/", "operate/", "threading.py"):
            if top in path:
                path = path[path.index(top):]
                break
    return f"{m.group('func')} ({path})"


def parse(text: str) -> tuple[int, Counter[str], Counter[str]]:
    """Total samples, self samples and inclusive samples by frame key."""
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_key(f) for f in stack.split(";") if f and not f.startswith(
            ("process ", "thread "))]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for key in set(frames):
            inclusive[key] += n
    return total, own, inclusive


def report(text: str, top: int = 25, under: str = "") -> str:
    total, own, inclusive = parse(text)
    if not total:
        return "no samples"
    lines = [f"{total} samples"]
    for title, counts in (("self", own), ("inclusive", inclusive)):
        lines.append(f"-- {title}")
        shown = [(k, v) for k, v in counts.most_common() if under in k][:top]
        lines += [f"{100 * v / total:5.1f}%  {k}" for k, v in shown]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("file", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--under", default="", help="only frames whose key contains this")
    args = p.parse_args(argv)
    print(report(args.file.read_text(), args.top, args.under))
    return 0


if __name__ == "__main__":
    sys.exit(main())
