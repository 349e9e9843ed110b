"""The distributions `orch` needs at run time: its requirements, transitively, with
no extras. Why: the image must hold exactly these (no test tools, no pip), and
image/constraints.txt must pin every one of them so that a build is reproducible;
both are judged from installed metadata, in the dev venv or in the image's
site-packages, without resolving anything over the network.
"""

from __future__ import annotations

import importlib.metadata as md
import re
from collections.abc import Iterable, Mapping, Set
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

CONSTRAINTS = Path(__file__).resolve().parent / "constraints.txt"


def installed(path: Path | None = None) -> dict[str, md.Distribution]:
    """Canonical name -> distribution, in `path` (a site-packages) or sys.path."""
    dists = md.distributions(path=[str(path)]) if path else md.distributions()
    return {canonicalize_name(d.metadata["Name"]): d for d in dists}


def closure(root: str, dists: Mapping[str, md.Distribution],
            ignore: Set[tuple[str, str]] = frozenset(),
            extras: frozenset[str] = frozenset()) -> dict[str, str]:
    """Name -> version of `root` (with its `extras`) and everything it requires
    (markers evaluated for this interpreter, extras only where a requirement asks
    for them), less the (requirer, required) edges in `ignore`."""
    env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    out: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(canonicalize_name(root), extras)]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = dists.get(name)
        if dist is None:
            raise LookupError(f"{name} is required but not installed")
        out[name] = dist.version
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({**env, "extra": e})
                                      for e in (extras or {""})):
                continue
            if (name, canonicalize_name(req.name)) not in ignore:
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return out


def read_constraints(path: Path = CONSTRAINTS) -> dict[str, str]:
    """Name -> pinned version of each `name==version` line."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        found = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
        if not found:
            raise ValueError(f"{path}: {line!r} is not name==version")
        pins[canonicalize_name(found.group(1))] = found.group(2)
    return pins


def write_constraints(runtime: Mapping[str, str], build: Mapping[str, str],
                      path: Path = CONSTRAINTS) -> None:
    def lines(pins: Iterable[tuple[str, str]]) -> list[str]:
        return [f"{name}=={version}" for name, version in sorted(pins)]

    path.write_text("\n".join([
        "# Pins for the image's build (PIP_CONSTRAINT in the Dockerfile): the runtime",
        "# closure of pyproject.toml's dependencies as installed in the dev venv, and the",
        "# build backend. Regenerate with `python -m image lock` (make image-lock).",
        *lines((n, v) for n, v in runtime.items() if n != "orch"),
        "# build backend (pyproject.toml [build-system])",
        *lines(build.items()), ""]))
