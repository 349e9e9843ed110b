"""Choosing the cluster, user and namespace as kubectl does (client-go's loading
rules), and exec credential plugins run for real."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from operate.client import run_exec_plugin
from operate.kubeconfig import ConfigError, ExecPlugin, load
from orchapi.api import Obj


def config(path: Path, *, current: str = "", clusters: list[Obj] | None = None,
           users: list[Obj] | None = None, contexts: list[Obj] | None = None) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": clusters or [], "users": users or [], "contexts": contexts or []}))
    return path


def cluster(name: str, server: str = "https://one:6443", **extra: Any) -> Obj:
    return {"name": name, "cluster": {"server": server, **extra}}


def context(name: str, cluster_: str, user: str, namespace: str | None = None) -> Obj:
    body: Obj = {"cluster": cluster_, "user": user}
    if namespace:
        body["namespace"] = namespace
    return {"name": name, "context": body}


def test_kubeconfig_list_first_file_wins_and_namespace_from_the_context(tmp_path: Path) -> None:
    first = config(tmp_path / "a", current="dev",
                   clusters=[cluster("c1", "https://first:6443")],
                   users=[{"name": "u", "user": {"token": "first-token"}}],
                   contexts=[context("dev", "c1", "u", "team-a")])
    second = config(tmp_path / "b", current="prod",
                    clusters=[cluster("c1", "https://second:6443"), cluster("c2")],
                    users=[{"name": "u", "user": {"token": "second"}}],
                    contexts=[context("prod", "c2", "u")])
    env = {"KUBECONFIG": f"{first}{os.pathsep}{tmp_path / 'missing'}{os.pathsep}{second}",
           "HOME": str(tmp_path)}
    conn = load(environ=env)
    assert (conn.context, conn.server, conn.token, conn.namespace) == (
        "dev", "https://first:6443", "first-token", "team-a")
    prod = load(context="prod", environ=env)
    assert (prod.server, prod.namespace) == ("https://one:6443", "default")
    assert load(context="prod", namespace="x", environ=env).namespace == "x"


def test_the_flag_reads_one_file_and_paths_are_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    path = config(tmp_path / "cfg", current="c",
                  clusters=[cluster("k", certificate_authority="certs/ca.pem")],
                  users=[{"name": "u", "user": {"client-certificate": "certs/me.pem",
                                                "client-key": "/abs/key.pem"}}],
                  contexts=[context("c", "k", "u")])
    text = path.read_text().replace("certificate_authority", "certificate-authority")
    path.write_text(text)
    conn = load(str(path), environ={"KUBECONFIG": "/nonexistent"})
    assert conn.ca_file == tmp_path.resolve() / "certs" / "ca.pem"
    assert conn.cert_file == tmp_path.resolve() / "certs" / "me.pem"
    assert conn.key_file == Path("/abs/key.pem")


def test_data_fields_are_base64_and_impersonation_becomes_headers(tmp_path: Path) -> None:
    pem = b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
    path = config(tmp_path / "cfg", current="c",
                  clusters=[{"name": "k", "cluster": {
                      "server": "https://k:6443/prefix/",
                      "certificate-authority-data": base64.b64encode(pem).decode(),
                      "tls-server-name": "kubernetes"}}],
                  users=[{"name": "u", "user": {"username": "ann", "password": "pw",
                                                "as": "bob", "as-groups": ["g1", "g2"]}}],
                  contexts=[context("c", "k", "u")])
    conn = load(str(path), environ={})
    assert (conn.ca_data, conn.server, conn.tls_server_name) == (
        pem, "https://k:6443/prefix", "kubernetes")
    assert conn.impersonate == (("Impersonate-User", "bob"), ("Impersonate-Group", "g1"),
                                ("Impersonate-Group", "g2"))
    assert (conn.username, conn.password) == ("ann", "pw")


@pytest.mark.parametrize("change,message", [
    ({"context": "nope"}, 'context "nope" not found in'),
    ({"current": ""}, "no current-context in"),
    ({"user": {"auth-provider": {"name": "gcp"}}}, 'uses auth-provider "gcp"'),
    ({"cluster": {"server": "https://k", "proxy-url": "http://p:3128"}}, "sets proxy-url"),
    ({"cluster": {"server": "k:6443"}}, "has no https:// server"),
], ids=["unknown-context", "no-current-context", "auth-provider", "proxy-url", "bad-server"])
def test_unusable_configurations_are_refused_with_the_reason(
        tmp_path: Path, change: Obj, message: str) -> None:
    path = config(tmp_path / "cfg", current=change.get("current", "c"),
                  clusters=[{"name": "k", "cluster": change.get("cluster",
                                                                {"server": "https://k"})}],
                  users=[{"name": "u", "user": change.get("user", {"token": "t"})}],
                  contexts=[context("c", "k", "u")])
    with pytest.raises(ConfigError, match=message):
        load(str(path), context=change.get("context"), environ={})


def test_no_configuration_at_all_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pass --kubeconfig FILE or set KUBECONFIG"):
        load(environ={"HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="no such file"):
        load(str(tmp_path / "absent"), environ={})


def _plugin(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "cred.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_an_exec_plugin_gets_its_env_and_exec_info_and_returns_a_token(tmp_path: Path) -> None:
    seen = tmp_path / "info.json"
    script = _plugin(tmp_path, f'printf %s "$KUBERNETES_EXEC_INFO" > {seen}\n'
                     'printf \'{"apiVersion":"client.authentication.k8s.io/v1",'
                     '"kind":"ExecCredential","status":{"token":"%s"}}\' "$GREETING"\n')
    status = run_exec_plugin(ExecPlugin(str(script), env=(("GREETING", "hi"),),
                                        interactive_mode="Never", provide_cluster_info=True),
                             "https://k")
    assert status["token"] == "hi"
    assert json.loads(seen.read_text()) == {
        "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
        "spec": {"interactive": False, "cluster": {"server": "https://k"}}}


@pytest.mark.parametrize("body,message", [
    ("exit 3\n", "exited 3"), ("echo not-json\n", "did not print an ExecCredential"),
    ('echo \'{"status": {}}\'\n', "neither a token nor a client certificate")])
def test_a_failing_exec_plugin_is_one_clear_error(tmp_path: Path, body: str,
                                                  message: str) -> None:
    script = _plugin(tmp_path, body)
    with pytest.raises(ConfigError, match=message):
        run_exec_plugin(ExecPlugin(str(script), interactive_mode="Never"), "https://k")
    with pytest.raises(ConfigError, match="install it"):
        run_exec_plugin(ExecPlugin(str(tmp_path / "absent"), install_hint="install it"),
                        "https://k")
