"""Certificates and keys for the apiserver, made with openssl.

Why: the apiserver needs a serving certificate, a client CA (the admin is a
client certificate in `system:masters`, as kubeadm does it) and a key pair to
sign ServiceAccount tokens. EC P-256 keys keep generation to milliseconds.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ec_key(path: Path, cwd: Path) -> None:
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(path), cwd=cwd)


def _signed_cert(name: str, subject: str, ext: str, d: Path) -> tuple[Path, Path]:
    key, csr, crt, extfile = (d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt",
                              d / f"{name}.ext")
    _ec_key(key, d)
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr), cwd=d)
    extfile.write_text(ext)
    _openssl("x509", "-req", "-in", str(csr), "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", str(extfile),
             "-out", str(crt), cwd=d)
    return crt, key


def make_pki(d: Path) -> Pki:
    """Write a CA, the apiserver's serving cert, an admin client cert and the
    ServiceAccount signing key pair into `d`."""
    d.mkdir(parents=True, exist_ok=True)
    _ec_key(d / "ca.key", d)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=orch-test-ca",
             "-days", "2", "-sha256", "-out", "ca.crt", cwd=d)
    serving = _signed_cert(
        "apiserver", "/CN=kube-apiserver",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc\n", d)
    admin = _signed_cert(
        "admin", "/O=system:masters/CN=orch-test-admin",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n", d)
    _ec_key(d / "sa.key", d)
    _openssl("ec", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)
    return Pki(d / "ca.crt", d / "ca.key", *serving, *admin, d / "sa.key", d / "sa.pub")
