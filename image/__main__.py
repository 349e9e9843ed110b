"""`python -m image build|base|lock`: the commands behind `make image`.

build  the Dockerfile into build/image/orch-<version>.oci.tar (prints the digest)
base   only make (or find) the Debian base; prints its buildah image names
lock   rewrite image/constraints.txt from the dev venv and the build backend
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.utils import canonicalize_name

from image import build as build_mod
from image import dists
from image.base import ensure_base
from image.buildah import Buildah, BuildahError


def lock() -> None:
    runtime = dists.closure("orch", dists.installed())
    with (build_mod.REPO / "pyproject.toml").open("rb") as fh:
        backend = tomllib.load(fh)["build-system"]["requires"]
    report = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
         "--only-binary", ":all:", "--report", "-", *backend],
        capture_output=True, text=True, check=True).stdout
    build = {str(canonicalize_name(i["metadata"]["name"])): str(i["metadata"]["version"])
             for i in json.loads(report)["install"]}
    dists.write_constraints(runtime, build)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m image", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="build the image into an OCI archive")
    p.add_argument("--base", default=build_mod.DEBIAN,
                   help=f"'{build_mod.DEBIAN}' (made from Debian's packages) or an image "
                        f"reference such as {build_mod.OFFICIAL}")
    p.add_argument("--out", type=Path, default=build_mod.OUT)
    sub.add_parser("base", help="make (or find) the Debian base")
    sub.add_parser("lock", help="rewrite image/constraints.txt")
    args = parser.parse_args(argv)
    missing = build_mod.tools_missing() if args.command != "lock" else []
    if missing:
        sys.stderr.write(f"image: {', '.join(missing)} not installed "
                         "(apt-get install buildah mmdebstrap)\n")
        return 2
    try:
        if args.command == "build":
            built = build_mod.build(args.base, args.out)
            sys.stdout.write(f"{built.tag} {built.digest} {built.archive} "
                             f"{built.size_bytes / 1e6:.1f} MB "
                             f"(base {built.base_seconds} s, build {built.build_seconds} s)\n")
        elif args.command == "base":
            args.out = build_mod.OUT
            args.out.mkdir(parents=True, exist_ok=True)
            made = ensure_base(Buildah(), args.out / "base.log")
            sys.stdout.write(f"{made.runtime} {made.build} ({made.made_seconds} s)\n")
        else:
            lock()
    except (BuildahError, RuntimeError) as exc:
        sys.stderr.write(f"image: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
