"""What a cluster benchmark reads from outside the processes it measures.

Why a module of its own: the throughput benchmark (`benchmarks.many_runs`) compares
two controllers it does not instrument, so everything is read where any operator
could read it: CPU from `/proc/PID/stat`, request counters from `/metrics`
(Prometheus text), the apiserver's audit log (who asked for what), and the time an
object was first seen ended from this process's own watch. Nothing here imports the
controller, so it measures any version of it.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines

Obj = dict[str, Any]
Tally = dict[tuple[str, ...], float]
TICKS = os.sysconf("SC_CLK_TCK")
# Only names, labels and the resourceVersion: the size of a Workflow's status would
# otherwise make this process the busiest client of the apiserver.
# (A list asks for the List kind; a watch's events carry single objects.)
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
METADATA_ONLY_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of `pid` so far (`/proc/PID/stat` fields
    14 and 15); the process name (field 2) may hold spaces, so split after it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, every core (`/proc/stat`):
    what the other work on a shared machine took shows as busy too."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS, sum(values[:8]) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- Prometheus text --------------------------------------------------------------------
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str, name: str, by: Iterable[str]) -> Tally:
    """The samples of metric `name` summed by the label values `by`."""
    keys = tuple(by)
    out: Tally = defaultdict(float)
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m or m.group(1) != name:
            continue
        labels = dict(_LABEL.findall(m.group(3) or ""))
        out[tuple(labels.get(k, "") for k in keys)] += float(m.group(4))
    return out


def http_text(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return str(r.read().decode())


def get(api: client.ApiClient, path: str, query: list[tuple[str, str]] | None = None,
        accept: str = "application/json", timeout: float | None = 60) -> Any:
    """GET `path` with the client's credentials; the unread urllib3 response (a
    watch is read line by line as it comes)."""
    method, url, headers, _, _ = api.param_serialize(
        "GET", path, query_params=query or [], header_params={"Accept": accept},
        auth_settings=["BearerToken"])
    resp = api.call_api(method, url, header_params=headers, _request_timeout=timeout)
    if resp.status != 200:
        raise RuntimeError(f"GET {path}: {resp.status} {resp.response.data[:300]!r}")
    return resp.response


def apiserver_metrics(api: client.ApiClient) -> str:
    return str(get(api, "/metrics", accept="text/plain").data.decode())


def apiserver_requests(api: client.ApiClient) -> Tally:
    """Every request the apiserver has served, by (verb, resource, subresource)."""
    return samples(apiserver_metrics(api), "apiserver_request_total",
                   ("verb", "resource", "subresource"))


def delta(after: Tally, before: Tally) -> Tally:
    """What grew between two tallies (counters only grow)."""
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


# -- the audit log ----------------------------------------------------------------------
class AuditLog:
    """Requests of one user from the apiserver's audit log (JSON lines), from a
    byte offset on: each request once (a watch is logged when its response starts
    and again when it ends; counted at the start)."""

    def __init__(self, path: Path, username: str) -> None:
        self.path, self.username = path, username

    def offset(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def requests(self, start: int, end: int | None = None) -> Counter[tuple[str, ...]]:
        """(verb, resource/subresource) -> count, between two offsets."""
        out: Counter[tuple[str, ...]] = Counter()
        with self.path.open("rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(end - start)
        for raw in data.splitlines():
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if event.get("user", {}).get("username") != self.username:
                continue
            verb = event.get("verb", "")
            stage = event.get("stage")
            if stage != ("ResponseStarted" if verb == "watch" else "ResponseComplete"):
                continue
            ref = event.get("objectRef") or {}
            resource = ref.get("resource", event.get("requestURI", ""))
            if ref.get("subresource"):
                resource += "/" + ref["subresource"]
            out[(verb, resource)] += 1
        return out


# -- the end of each object, as this process sees it --------------------------------------
class Ended:
    """The first time this process saw each object of one resource ended, from a
    list and then a watch (re-listed on 410 Gone or when the watch ends)."""

    def __init__(self, api: client.ApiClient, path: str, ended: Callable[[Obj], bool],
                 metadata_only: bool = False) -> None:
        self.api, self.path, self.is_ended = api, path, ended
        self.metadata_only = metadata_only
        self.lock = threading.Lock()
        self.first_seen: dict[str, float] = {}
        self.ended_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"ended {path}")
        self.synced = threading.Event()
        self.error: Exception | None = None

    def start(self) -> Ended:
        self._thread.start()
        if not self.synced.wait(60):
            raise TimeoutError(f"no list of {self.path}: {self.error!r}")
        return self

    def stop(self) -> None:
        self._stop.set()

    def forget(self) -> None:
        with self.lock:
            self.first_seen.clear()
            self.ended_at.clear()

    def count_ended(self, names: Iterable[str]) -> int:
        with self.lock:
            return sum(1 for n in names if n in self.ended_at)

    def _see(self, obj: Obj, now: float) -> None:
        name = obj["metadata"]["name"]
        with self.lock:
            self.first_seen.setdefault(name, now)
            if name not in self.ended_at and self.is_ended(obj):
                self.ended_at[name] = now

    def _get(self, query: list[tuple[str, str]], timeout: float | None) -> Any:
        accept = "application/json"
        if self.metadata_only:
            accept = METADATA_ONLY if ("watch", "true") in query else METADATA_ONLY_LIST
        return get(self.api, self.path, query, accept, timeout)

    def _list(self) -> str:
        version, cont = "", ""
        while True:
            query = [("limit", "500")] + ([("continue", cont)] if cont else [])
            body = json.loads(self._get(query, 60).data)
            now = time.monotonic()
            for obj in body.get("items") or ():
                self._see(obj, now)
            version = body["metadata"]["resourceVersion"]
            cont = body["metadata"].get("continue") or ""
            if not cont:
                return str(version)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                version = self._list()
                self.synced.set()
                resp = self._get([("watch", "true"), ("resourceVersion", version),
                                  ("allowWatchBookmarks", "true"),
                                  ("timeoutSeconds", "120")], None)
                for line in iter_resp_lines(resp):  # type: ignore[no-untyped-call]
                    event = json.loads(line)
                    if event["type"] == "ERROR":
                        break  # 410 Gone and the like: list again
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._see(event["object"], time.monotonic())
                    if self._stop.is_set():
                        break
                resp.release_conn()
            except Exception as e:  # the apiserver went away for a moment: list again
                if not self.synced.is_set():
                    self.error = e
                time.sleep(0.5)


def phase_label_ended(obj: Obj) -> bool:
    """A Workflow Argo has ended (its phase label, which Argo writes with the status)."""
    phase = ((obj.get("metadata") or {}).get("labels") or {}).get(
        "workflows.argoproj.io/phase")
    return phase in ("Succeeded", "Failed", "Error")


def run_ended(obj: Obj) -> bool:
    return (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Cancelled")
