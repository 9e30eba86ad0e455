"""ECK as the tests see it: ECK's real CRDs (pinned, cached outside the tree), and what ECK creates for an
Elasticsearch named X (the Service X-es-http, the Secrets X-es-http-certs-public and X-es-elastic-user), with a
CA of the test's own so that the Elasticsearch emulator can serve HTTPS the way ECK's Elasticsearch does.

    crds = eck_crd_file(tmp_path, "elasticsearches.elasticsearch.k8s.elastic.co")
    cp.install_crds(crds)
    tls = TestTLS.for_hosts("localhost", "127.0.0.1")
    EmulatorServer(..., ssl_context=tls.server_context(tmp_path))
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TESTBED = Path(__file__).resolve().parent
FETCH_SCRIPT = TESTBED / "fetch-eck-crds.sh"
ELASTICSEARCH_CRD = "elasticsearches.elasticsearch.k8s.elastic.co"
GROUP_VERSION = "elasticsearch.k8s.elastic.co/v1"


def eck_crds_dir() -> Path:
    """The folder holding ECK's all-crds.yaml (fetched once from the Go module proxy, then cached)."""
    result = subprocess.run(["bash", str(FETCH_SCRIPT)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{FETCH_SCRIPT} failed ({result.returncode}):\n{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])


def eck_crd_file(folder: Path, *names: str) -> Path:
    """ECK's CRDs of the given names, unchanged, in one file under `folder` (the API server gets only the kinds a
    test needs: all of ECK's CRDs are 12 large schemas)."""
    documents = [d for d in yaml.safe_load_all((eck_crds_dir() / "all-crds.yaml").read_text()) if d]
    chosen = [d for d in documents if d["metadata"]["name"] in names]
    missing = set(names) - {d["metadata"]["name"] for d in chosen}
    if missing:
        raise RuntimeError(f"ECK's all-crds.yaml has no {sorted(missing)}")
    path = folder / "eck-crds.yaml"
    path.write_text(yaml.safe_dump_all(chosen))
    return path


# --- What ECK creates for an Elasticsearch named X ----------------------------------------------------------


def _secret(namespace: str, name: str, data: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def elasticsearch(namespace: str, name: str, *, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """An Elasticsearch as a user writes it (one node set); ECK would fill in its status."""
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Elasticsearch",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {"version": "9.1.0", "nodeSets": [{"name": "default", "count": 1}]},
    }


def eck_objects(namespace: str, name: str, *, tls: TestTLS, elastic_password: str) -> list[dict[str, Any]]:
    """The Service and Secrets ECK creates for Elasticsearch `name`, named and labelled as ECK does."""
    labels = {"common.k8s.elastic.co/type": "elasticsearch", "elasticsearch.k8s.elastic.co/cluster-name": name}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{name}-es-http", "namespace": namespace, "labels": labels},
        "spec": {"ports": [{"name": "https", "port": 9200, "protocol": "TCP", "targetPort": 9200}], "selector": labels},
    }
    return [
        service,
        _secret(namespace, f"{name}-es-http-certs-public", {"ca.crt": tls.ca_pem, "tls.crt": tls.cert_pem}, labels),
        elastic_user_secret(namespace, name, elastic_password),
    ]


def elastic_user_secret(namespace: str, name: str, password: str) -> dict[str, Any]:
    labels = {"common.k8s.elastic.co/type": "elasticsearch", "elasticsearch.k8s.elastic.co/cluster-name": name}
    return _secret(namespace, f"{name}-es-elastic-user", {"elastic": password}, labels)


# --- A CA of the test's own ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestTLS:
    """A throw-away CA and a serving certificate it signed for `hosts` (PEM)."""

    __test__ = False  # not a pytest test class

    ca_pem: str
    cert_pem: str
    key_pem: str

    @classmethod
    def for_hosts(cls, *hosts: str) -> TestTLS:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "es-inference-operator test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        return cls(
            ca_pem=ca.public_bytes(pem).decode(),
            cert_pem=cert.public_bytes(pem).decode(),
            key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
        )

    def server_context(self, folder: Path) -> ssl.SSLContext:
        """A context serving the certificate (written under `folder`: the ssl module loads keys from files)."""
        cert, key = folder / "tls.crt", folder / "tls.key"
        cert.write_text(self.cert_pem)
        key.write_text(self.key_pem)
        key.chmod(0o600)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context
