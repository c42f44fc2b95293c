"""A test PKI made with the openssl CLI: the CA, server and client certificates the TLS tests use
(the site broker's listener, the district store over https, SMTP with STARTTLS)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.servers import require_binary


@dataclass(frozen=True)
class Pki:
    """A test CA, a server certificate for localhost and 127.0.0.1 (subjectAltName), a client
    certificate, and a second CA that signed none of them. Paths to PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run([require_binary("openssl"), *map(str, args)], check=True, capture_output=True)


def make_pki(folder: Path) -> Pki:
    """Certificates made with the openssl CLI (P-256 keys: fast to make), valid for two days."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")

    def ca(name: str) -> tuple[Path, Path]:
        crt, k = folder / f"{name}.crt", folder / f"{name}.key"
        _openssl(
            "req",
            "-x509",
            *key,
            "-keyout",
            k,
            "-out",
            crt,
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        )
        return crt, k

    def leaf(name: str, ca_crt: Path, ca_key: Path, ext: str) -> tuple[Path, Path]:
        crt, k, csr, extfile = (folder / f"{name}.{s}" for s in ("crt", "key", "csr", "ext"))
        _openssl("req", "-new", *key, "-keyout", k, "-out", csr, "-subj", f"/CN={name}")
        extfile.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" + ext + "\n"
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca_crt,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            crt,
            "-days",
            "2",
            "-extfile",
            extfile,
        )
        return crt, k

    ca_crt, ca_key = ca("test-ca")
    server = leaf("server", ca_crt, ca_key, "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1")
    client = leaf("client", ca_crt, ca_key, "extendedKeyUsage=clientAuth")
    other, _ = ca("other-ca")
    return Pki(ca_crt, *server, *client, other)
