"""Where to connect and as whom, chosen as kubectl chooses (client-go's clientcmd).

- Files: `--kubeconfig FILE` alone; else every file of `$KUBECONFIG` (missing ones
  skipped), merged so that the first file to name a cluster, user or context, or to
  set `current-context`, wins; else `~/.kube/config`; else the in-cluster
  ServiceAccount (`KUBERNETES_SERVICE_HOST`), as kubectl falls back to it.
- Context: `--context`, else `current-context`. Namespace: `-n`, else the
  context's, else `default` (in a pod: the pod's own namespace).
- Credentials: client certificate and key (file or `-data`), `token`, `tokenFile`,
  `username`/`password`, exec plugins (`client.authentication.k8s.io`), and the
  impersonation fields (`as`, `as-groups`, `as-uid`). Relative paths are read
  from the directory of the file that named them.
- Not supported, refused with a clear error rather than ignored: `auth-provider`
  (kubectl dropped gcp and azure in 1.26; use their exec plugins) and `proxy-url`.

Nothing here opens a connection; `operate.client` does.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchapi.api import Obj

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The configuration cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class ExecPlugin:
    """An exec credential plugin (`users[].user.exec`)."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"
    interactive_mode: str = "IfAvailable"
    provide_cluster_info: bool = False
    install_hint: str | None = None
    base_dir: Path = Path(".")


@dataclass(frozen=True)
class Connection:
    """Everything `operate.client` needs to reach the apiserver as this user."""

    server: str
    namespace: str
    context: str
    ca_data: bytes | None = None  # PEM
    ca_file: Path | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    cert_data: bytes | None = None  # PEM
    cert_file: Path | None = None
    key_data: bytes | None = None
    key_file: Path | None = None
    token: str | None = None
    token_file: Path | None = None
    username: str | None = None
    password: str | None = None
    exec_plugin: ExecPlugin | None = None
    impersonate: tuple[tuple[str, str], ...] = field(default=())  # headers


@dataclass
class _Merged:
    clusters: dict[str, tuple[Obj, Path]] = field(default_factory=dict)
    users: dict[str, tuple[Obj, Path]] = field(default_factory=dict)
    contexts: dict[str, Obj] = field(default_factory=dict)
    current_context: str = ""
    files: list[Path] = field(default_factory=list)


def config_files(flag: str | None, environ: Mapping[str, str]) -> list[Path]:
    """The files to read, in precedence order (kubectl's loading rules)."""
    if flag:
        path = Path(flag).expanduser()
        if not path.is_file():
            raise ConfigError(f"--kubeconfig {flag}: no such file")
        return [path]
    listed = environ.get("KUBECONFIG", "")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep)
                if p and Path(p).expanduser().is_file()]
    home = Path(environ.get("HOME") or Path.home()) / ".kube" / "config"
    return [home] if home.is_file() else []


def _load_file(path: Path) -> Obj:
    import yaml  # the kubeconfig is YAML (or JSON, which YAML reads)

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not a valid kubeconfig (YAML error: "
                          f"{str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a valid kubeconfig (a mapping is expected)")
    return data


def merge(files: Sequence[Path]) -> _Merged:
    merged = _Merged(files=list(files))
    for path in files:
        data = _load_file(path)
        base = path.resolve().parent
        for key, target in (("clusters", merged.clusters), ("users", merged.users)):
            for entry in data.get(key) or ():
                name, body = _named(entry, key, path)
                target.setdefault(name, (body, base))
        for entry in data.get("contexts") or ():
            name, body = _named(entry, "contexts", path)
            merged.contexts.setdefault(name, body)
        if not merged.current_context and data.get("current-context"):
            merged.current_context = str(data["current-context"])
    return merged


def _named(entry: Any, key: str, path: Path) -> tuple[str, Obj]:
    inner = {"clusters": "cluster", "users": "user", "contexts": "context"}[key]
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"{path}: {key}[] entry without a name")
    body = entry.get(inner) or {}
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: {key}[name={entry['name']}].{inner} is not a mapping")
    return entry["name"], body


def load(kubeconfig: str | None = None, context: str | None = None,
         namespace: str | None = None, environ: Mapping[str, str] | None = None) -> Connection:
    """The connection kubectl would use with the same flags and environment."""
    env = os.environ if environ is None else environ
    files = config_files(kubeconfig, env)
    if not files:
        if env.get("KUBERNETES_SERVICE_HOST") and (IN_CLUSTER_DIR / "token").is_file():
            return _in_cluster(env, namespace)
        raise ConfigError("no kubeconfig: pass --kubeconfig FILE or set KUBECONFIG "
                          "(~/.kube/config does not exist)")
    merged = merge(files)
    name = context or merged.current_context
    if not name:
        raise ConfigError(f"no current-context in {_which(files)}; pass --context NAME "
                          f"(contexts: {', '.join(sorted(merged.contexts)) or 'none'})")
    if name not in merged.contexts:
        raise ConfigError(f'context "{name}" not found in {_which(files)} '
                          f"(contexts: {', '.join(sorted(merged.contexts)) or 'none'})")
    ctx = merged.contexts[name]
    cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
    if cluster_name not in merged.clusters:
        raise ConfigError(f'context "{name}" names cluster "{cluster_name}", which '
                          f"{_which(files)} does not define")
    cluster, cluster_dir = merged.clusters[cluster_name]
    user, user_dir = merged.users.get(user_name, ({}, cluster_dir))
    if user_name and user_name not in merged.users:
        raise ConfigError(f'context "{name}" names user "{user_name}", which '
                          f"{_which(files)} does not define")
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise ConfigError(f'cluster "{cluster_name}" has no https:// server '
                          f"(server: {server!r})")
    if cluster.get("proxy-url"):
        raise ConfigError(f'cluster "{cluster_name}" sets proxy-url, which orch does not '
                          "support; use kubectl for this cluster")
    if user.get("auth-provider"):
        provider = (user["auth-provider"] or {}).get("name", "?")
        raise ConfigError(f'user "{user_name}" uses auth-provider "{provider}", which orch '
                          "does not support; use the provider's exec credential plugin")
    return Connection(
        server=server.rstrip("/"),
        namespace=namespace or str(ctx.get("namespace") or "") or "default",
        context=name,
        ca_data=_data(cluster, "certificate-authority-data", cluster_name),
        ca_file=_path(cluster, "certificate-authority", cluster_dir),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name") or None,
        cert_data=_data(user, "client-certificate-data", user_name),
        cert_file=_path(user, "client-certificate", user_dir),
        key_data=_data(user, "client-key-data", user_name),
        key_file=_path(user, "client-key", user_dir),
        token=user.get("token") or None,
        token_file=_path(user, "tokenFile", user_dir),
        username=user.get("username") or None,
        password=user.get("password") or None,
        exec_plugin=_exec(user.get("exec"), user_dir, user_name),
        impersonate=_impersonation(user),
    )


def _which(files: Sequence[Path]) -> str:
    return ", ".join(str(f) for f in files)


def _data(section: Obj, key: str, owner: str) -> bytes | None:
    value = section.get(key)
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=False)
    except ValueError:
        raise ConfigError(f'"{owner}": {key} is not base64') from None


def _path(section: Obj, key: str, base: Path) -> Path | None:
    value = section.get(key)
    if not value:
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base / path


def _exec(spec: Any, base: Path, user: str) -> ExecPlugin | None:
    if not spec:
        return None
    if not isinstance(spec, dict) or not spec.get("command"):
        raise ConfigError(f'user "{user}": exec needs a command')
    env = tuple((str(e.get("name")), str(e.get("value", ""))) for e in spec.get("env") or ()
                if isinstance(e, dict))
    return ExecPlugin(
        command=str(spec["command"]), args=tuple(str(a) for a in spec.get("args") or ()),
        env=env, api_version=str(spec.get("apiVersion") or ExecPlugin.api_version),
        interactive_mode=str(spec.get("interactiveMode") or "IfAvailable"),
        provide_cluster_info=bool(spec.get("provideClusterInfo")),
        install_hint=spec.get("installHint") or None, base_dir=base)


def _impersonation(user: Obj) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    if user.get("as"):
        headers.append(("Impersonate-User", str(user["as"])))
    if user.get("as-uid"):
        headers.append(("Impersonate-Uid", str(user["as-uid"])))
    for group in user.get("as-groups") or ():
        headers.append(("Impersonate-Group", str(group)))
    for key, values in (user.get("as-user-extra") or {}).items():
        for value in values or ():
            headers.append((f"Impersonate-Extra-{key}", str(value)))
    return tuple(headers)


def _in_cluster(env: Mapping[str, str], namespace: str | None) -> Connection:
    host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
    host = f"[{host}]" if ":" in host else host
    own = IN_CLUSTER_DIR / "namespace"
    default = own.read_text().strip() if own.is_file() else "default"
    return Connection(server=f"https://{host}:{port}", namespace=namespace or default,
                      context="in-cluster", ca_file=IN_CLUSTER_DIR / "ca.crt",
                      token_file=IN_CLUSTER_DIR / "token")
