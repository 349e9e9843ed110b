"""image/'s small decisions: the base's cache key, dates, the constraints file's
grammar, the runtime closure, the per-checkout build name. Tables, no network."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import pytest

from image import base, dists
from image.build import local_ref

DATE = "Sat, 11 Jul 2026 10:16:37 UTC"


def test_release_date_is_the_base_epoch() -> None:
    assert base.epoch_of(DATE) == 1783764997
    with pytest.raises(ValueError, match="not an RFC 2822 date"):
        base.epoch_of("yesterday")


def test_base_key_follows_the_release_date_and_the_recipe(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    key = base.key_of(DATE)
    assert key == base.key_of(DATE) and len(key) == 16
    assert base.key_of("Sat, 12 Sep 2026 10:00:00 UTC") != key  # a point release
    monkeypatch.setattr(base, "PARTS", (*base.PARTS[:1], base.Part(
        "build", "essential", ("python3-venv", "python3-pip", "gcc"), customize=False)))
    assert base.key_of(DATE) != key  # another package list


def test_runtime_base_has_no_essential_set() -> None:
    runtime = next(p for p in base.PARTS if p.name == "runtime")
    assert runtime.variant == "extract" and runtime.customize
    assert not {"dash", "bash", "coreutils", "apt", "python3-pip"} & set(runtime.include)


@pytest.mark.parametrize(("text", "pins"), [
    pytest.param("a==1\n# c\n\nB_c==2.0  # why\n", {"a": "1", "b-c": "2.0"}, id="pins"),
    pytest.param("", {}, id="empty"),
])
def test_read_constraints(tmp_path: Path, text: str, pins: dict[str, str]) -> None:
    path = tmp_path / "c.txt"
    path.write_text(text)
    assert dists.read_constraints(path) == pins


@pytest.mark.parametrize("line", ["a>=1", "a", "-e .", "a==1; python_version<'3'"])
def test_read_constraints_refuses_what_is_not_a_pin(tmp_path: Path, line: str) -> None:
    path = tmp_path / "c.txt"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match="is not name==version"):
        dists.read_constraints(path)


class Dist(md.Distribution):
    """Metadata only, as an installed distribution would give it."""

    def __init__(self, name: str, requires: list[str]) -> None:
        self.text = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
                             *(f"Requires-Dist: {r}\n" for r in requires)])

    def read_text(self, filename: str) -> str | None:
        return self.text if filename == "METADATA" else None

    def locate_file(self, path: str | Path) -> Path:  # type: ignore[override]
        return Path(path)


def test_closure_follows_markers_extras_and_ignores() -> None:
    found = {d.metadata["Name"]: d for d in (
        Dist("orch", ["k8s", "test-only; extra == 'test'", "old; python_version < '3'"]),
        Dist("k8s", ["aiohttp", "req[socks]"]), Dist("aiohttp", ["yarl"]), Dist("yarl", []),
        Dist("req", ["pysocks; extra == 'socks'"]), Dist("pysocks", []),
        Dist("test-only", []), Dist("old", []))}
    assert sorted(dists.closure("orch", found)) == [
        "aiohttp", "k8s", "orch", "pysocks", "req", "yarl"]
    assert sorted(dists.closure("orch", found, ignore={("k8s", "aiohttp")})) == [
        "k8s", "orch", "pysocks", "req"]
    with pytest.raises(LookupError, match="missing is required"):
        dists.closure("orch", {**found, "orch": Dist("orch", ["missing"])})


def test_local_ref_names_one_build_of_one_checkout() -> None:
    assert local_ref("a" * 64) != local_ref("b" * 64)
    assert local_ref("a" * 64).startswith("localhost/orch-build/")
