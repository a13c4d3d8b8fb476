"""A throw-away certificate authority for the twin, so it can serve HTTPS as real clusters do.

Elasticsearch 8 turns TLS on by default (it generates ``http_ca.crt`` at first start) and the
Kubernetes API server only speaks HTTPS; a service that was only ever tested over ``http://``
has never exercised its ``caFile`` / ``ca.crt`` handling. The twin therefore generates a CA and
one server certificate (SANs: the listen host, ``127.0.0.1``, ``::1``, ``localhost``) when it
starts with security on, writes them as PEM files next to its kubeconfig, and serves both
sides with the same ``ssl.SSLContext``.

``HandshakeCounter`` counts TLS handshakes *attempted* (the server sees a ClientHello), so a
test can prove that a client which rejects the server certificate (wrong CA) does not retry in
a storm: such a client never sends an HTTP request, only handshakes.

EC P-256 keys keep generation to a few milliseconds. Validity is wall-clock time (TLS peers
check it against their own clock), not the twin's simulated clock.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["HandshakeCounter", "TlsFiles", "generate_tls", "server_ssl_context"]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of one generated CA and the server certificate it signed."""

    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path


@dataclass
class HandshakeCounter:
    """ClientHellos seen by a server context (successful or not)."""

    count: int = 0
    #: the SNI name of the latest ClientHello (None: none sent, as for an IP address).
    last_server_name: str | None = None

    def __call__(self, _obj: object, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        # ssl's sni_callback runs on every ClientHello, with or without SNI; returning None
        # lets the handshake continue with this context.
        self.count += 1
        self.last_server_name = server_name


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "es-autoscaler sim"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _san(hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in hosts:
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def generate_tls(
    directory: Path,
    *,
    hosts: Iterable[str] = (),
    prefix: str = "sim",
    days: int = 7,
) -> TlsFiles:
    """Generate a CA and a server certificate for ``hosts`` (plus the loopback names) into
    ``directory`` as ``{prefix}-ca.crt``/``-ca.key``/``.crt``/``.key``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{prefix} twin CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{prefix} twin"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san([*hosts, "127.0.0.1", "::1", "localhost"]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(
        ca_cert=directory / f"{prefix}-ca.crt",
        ca_key=directory / f"{prefix}-ca.key",
        cert=directory / f"{prefix}.crt",
        key=directory / f"{prefix}.key",
    )
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(files.ca_key, ca_key)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(files.key, key)
    return files


def server_ssl_context(
    files: TlsFiles, *, counter: HandshakeCounter | None = None
) -> ssl.SSLContext:
    """A server-side context for ``files`` (TLS 1.2+), counting handshakes in ``counter``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(files.cert), str(files.key))
    if counter is not None:
        ctx.sni_callback = counter
    return ctx
