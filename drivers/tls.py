"""Client TLS for the links: one place that decides what a trusted server is.

The broker's certificate is always verified, against `ca_file` (a private CA, or a self-signed
broker certificate, which is its own CA) or the system's trust store, and its name is always
checked. There is deliberately no "skip verification" switch: a hall whose broker is reached
by IP while its certificate names a host sets `server_name`, and a self-signed broker sets
`ca_file` to that certificate; neither needs the check off.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class TlsOptions:
    ca_file: str | Path | None = None  # PEM; None: the system's trust store
    cert_file: str | Path | None = None  # PEM client certificate, for brokers that require one (mutual TLS)
    key_file: str | Path | None = None  # its private key (unencrypted PEM); required with cert_file
    server_name: str | None = None  # the name the certificate must carry; default: the host we dial


class _NamedContext(ssl.SSLContext):
    """An SSLContext that checks the server against a fixed name rather than the dialled host.

    paho passes its connect host as `server_hostname` and has no option to change it; the name
    is both the SNI sent and the name the certificate must match.
    """

    server_name: str | None = None

    def wrap_socket(
        self, sock: socket.socket, *args: Any, server_hostname: str | None = None, **kwargs: Any
    ) -> ssl.SSLSocket:
        return super().wrap_socket(sock, *args, server_hostname=self.server_name or server_hostname, **kwargs)


def client_context(tls: TlsOptions) -> ssl.SSLContext:
    """A verifying client context; raises ValueError naming the file when one cannot be used."""
    if (tls.cert_file is None) != (tls.key_file is None):
        raise ValueError("cert_file 与 key_file 须同时给出（双向 TLS）或都不给")
    ctx = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname on
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.server_name = tls.server_name
    try:
        if tls.ca_file:
            ctx.load_verify_locations(cafile=tls.ca_file)
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    except (ssl.SSLError, OSError) as e:
        raise ValueError(f"ca_file {tls.ca_file}：不是可读的 PEM 证书（{e}）") from None
    if tls.cert_file and tls.key_file:
        try:
            ctx.load_cert_chain(tls.cert_file, tls.key_file)
        except (ssl.SSLError, OSError) as e:
            raise ValueError(
                f"cert_file {tls.cert_file} / key_file {tls.key_file}：不能用作客户端证书（{e}）："
                "请给出 PEM 证书及其未加密的 PEM 私钥"
            ) from None
    return ctx


def describe_tls_error(e: BaseException, server_name: str) -> str:
    """An operator's reading of a failed handshake: what was refused and which setting to check."""
    if isinstance(e, ssl.SSLCertVerificationError):
        reason = e.verify_message or str(e)
        if "mismatch" in reason.lower():
            return (
                f"TLS: the broker's certificate is not valid for {server_name!r} ({reason}); "
                f"set broker.tls.server_name to a name the certificate carries"
            )
        return (
            f"TLS: the broker's certificate is not trusted ({reason}); "
            f"check that broker.tls.ca_file is the CA that signed it"
        )
    if isinstance(e, ssl.SSLError):
        return f"TLS: {e.reason or e} ({e})"
    return f"{type(e).__name__}: {e}"
