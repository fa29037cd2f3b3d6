"""Listener roots and SynapseSite, driven in-process over a fake transport."""

import datetime
import json
import logging

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.error import CannotListenError
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource

from synapse.api.errors import ConfigError
from synapse.app.listeners import PemTlsContextFactory, _listen_tcp, build_listener_root
from synapse.config.listeners import HttpResourceConfig, ListenerConfig
from synapse.http.site import SynapseSite, redact_uri


class Text(Resource):
    """A leaf answering GET with fixed text."""

    isLeaf = True

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def render_GET(self, request):
        return self.body

    render_POST = render_GET


class FakeHS:
    def __init__(self):
        self.requested_names = []

    def build_listener_resource(self, names):
        self.requested_names.append(list(names))
        root = Resource()
        root.putChild(b"app", Text(b"app:" + ",".join(names).encode()))
        return root


def request(site, raw: bytes, peer=None) -> bytes:
    channel = site.buildProtocol(None)
    transport = StringTransport(peerAddress=peer or IPv4Address("TCP", "10.1.1.1", 5555))
    channel.makeConnection(transport)
    channel.dataReceived(raw)
    return transport.value()


def http_listener(names, x_forwarded=False) -> ListenerConfig:
    return ListenerConfig(type="http", port=8008, x_forwarded=x_forwarded, resources=[HttpResourceConfig(names=names)])


def test_health_and_app_resources():
    hs = FakeHS()
    site = SynapseSite(build_listener_root(hs, http_listener(["client", "health"]), True), "8008")
    assert request(site, b"GET /health HTTP/1.0\r\n\r\n").endswith(b"\r\n\r\nOK")
    assert request(site, b"GET /app HTTP/1.0\r\n\r\n").endswith(b"\r\n\r\napp:client")
    assert hs.requested_names == [["client"]]


def test_metrics_only_listener_does_not_build_app_resource():
    hs = FakeHS()
    site = SynapseSite(build_listener_root(hs, http_listener(["metrics"]), True), "m")
    assert b"python_info" in request(site, b"GET /_synapse/metrics HTTP/1.0\r\n\r\n")
    assert request(site, b"GET /app HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 404")
    assert hs.requested_names == []


def test_metrics_resource_needs_enable_metrics():
    site = SynapseSite(build_listener_root(FakeHS(), http_listener(["client", "metrics"]), False), "8008")
    assert request(site, b"GET /_synapse/metrics HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 404")


def test_forwarded_for_is_trusted_only_with_x_forwarded(caplog):
    raw = b"GET /app?access_token=tok123&x=1 HTTP/1.0\r\nX-Forwarded-For: 198.51.100.4, 10.0.0.2\r\n\r\n"
    for x_forwarded, expected_ip in ((True, "198.51.100.4"), (False, "10.1.1.1")):
        caplog.clear()
        site = SynapseSite(build_listener_root(FakeHS(), http_listener(["client"]), True), "t", x_forwarded=x_forwarded)
        with caplog.at_level(logging.INFO, logger="synapse.access"):
            request(site, raw)
        (line,) = [r.getMessage() for r in caplog.records if r.name == "synapse.access.http.t"]
        assert line.startswith(expected_ip + " - t - ")
        assert '"GET /app?access_token=<redacted>&x=1 HTTP/1.0"' in line and " 200 " in line
        assert "tok123" not in line


def test_unix_socket_client_ip_is_dash(caplog):
    site = SynapseSite(build_listener_root(FakeHS(), http_listener(["client"]), True), "sock")
    with caplog.at_level(logging.INFO, logger="synapse.access"):
        request(site, b"GET /health HTTP/1.0\r\n\r\n", peer=UNIXAddress(None))
    (line,) = [r.getMessage() for r in caplog.records if r.name == "synapse.access.http.sock"]
    assert line.startswith("- - sock - ")


def test_redact_uri():
    assert redact_uri(b"/a?access_token=abc") == "/a?access_token=<redacted>"
    assert redact_uri(b"/a?x=1&access_token=abc&y=2") == "/a?x=1&access_token=<redacted>&y=2"
    assert redact_uri(b"/a?my_access_token=abc") == "/a?my_access_token=abc"


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def test_tls_context_from_pem_files(tmp_path):
    cert, key = _self_signed(tmp_path)
    assert PemTlsContextFactory(cert, key).getContext() is not None


def test_tls_bad_certificate_names_option(tmp_path):
    cert, key = _self_signed(tmp_path)
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError) as exc:
        PemTlsContextFactory(str(bad), key)
    assert str(exc.value).startswith(f"{bad}: tls_certificate_path: ")


def _post(site, size: int):
    channel = site.buildProtocol(None)
    transport = StringTransport(peerAddress=IPv4Address("TCP", "10.1.1.1", 5555))
    channel.makeConnection(transport)
    channel.dataReceived(b"POST /app HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size)
    return transport


def test_oversized_body_answers_413_m_too_large_and_closes():
    site = SynapseSite(build_listener_root(FakeHS(), http_listener(["client"]), True), "t", max_request_body_size=1000)
    small = _post(site, 1000)
    assert small.value().startswith(b"HTTP/1.0 200")
    big = _post(site, 1001)
    head, _, body = big.value().partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body) == {"errcode": "M_TOO_LARGE", "error": "Request body too large"}
    assert big.disconnecting


class _FakeReactor:
    """Records binds; "0.0.0.0" fails as on a dual-stack host after "::"."""

    def __init__(self):
        self.bound = []

    def listenTCP(self, port, factory, interface):
        if interface == "0.0.0.0" and "::" in self.bound:
            raise CannotListenError(interface, port, OSError("Address already in use"))
        self.bound.append(interface)
        return interface


def test_dual_stack_bind_tolerates_ipv4_conflict():
    listener = ListenerConfig(type="http", port=8008, bind_addresses=["::", "0.0.0.0"])
    reactor = _FakeReactor()
    assert _listen_tcp(reactor, listener, None, None) == ["::"]


def test_other_bind_failures_are_raised():
    # 0.0.0.0 failing without "::" bound first is a real error
    only_ipv4 = ListenerConfig(type="http", port=8008, bind_addresses=["127.0.0.1", "0.0.0.0"])
    reactor = _FakeReactor()
    reactor.bound.append("::")  # e.g. another process holds [::]:8008
    with pytest.raises(CannotListenError):
        _listen_tcp(reactor, only_ipv4, None, None)
