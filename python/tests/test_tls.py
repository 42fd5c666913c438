"""TLS servers (memcached -Z, requiring client certificates), with
certificates made by openssl for the test run: the tls keyword settings,
round trips and pipelines over TLS, and the errors of an untrusted server
and of a file that cannot be read."""

import os
import ssl
import subprocess

import pytest

import memcache
from conftest import Server


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN=memcache test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_leaf(d, name, ca, san):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
            "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    make_leaf(d, "server", "ca", "IP:127.0.0.1,DNS:localhost")
    make_leaf(d, "client", "ca", "DNS:memcache-client")
    return d


class TlsServer(Server):
    """memcached -Z with pki's server certificate, requiring a client one;
    its readiness check speaks TLS."""

    def __init__(self, pki):
        self.pki = pki
        context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        context.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
        self.context = context
        settings = (f"ssl_chain_cert={pki / 'server.pem'},ssl_key={pki / 'server.key'},"
                    f"ssl_ca_cert={pki / 'ca.pem'},ssl_verify_mode=2")
        super().__init__("-Z", "-o", settings)

    def connect(self):
        raw = super().connect()
        return self.context.wrap_socket(raw, server_hostname="127.0.0.1")


@pytest.fixture(scope="module")
def secure(pki):
    s = TlsServer(pki)
    yield s
    s.stop()


def tls_options(pki, ca="ca.pem"):
    return dict(tls=True, tlsca=pki / ca, tlscert=pki / "client.pem", tlskey=pki / "client.key")


def test_everything_round_trips_over_tls(pki, secure):
    m = memcache.create(secure.spec, **tls_options(pki))
    try:
        m.put("text", "é über TLS", 0)
        m.put("bytes", b"\x00\xff" * 40000, 0)
        assert m.get("text") == "é über TLS"
        assert m.get("bytes") == b"\x00\xff" * 40000
        pairs = {f"k{i}": f"value {i}" for i in range(300)}
        m.mput(pairs)
        assert m.mget(list(pairs)) == pairs
        options = m.configure()
        assert (options["tls"], options["tlsca"], options["tlsverify"], options["tlsname"]) == \
            (True, str(pki / "ca.pem"), True, "")
    finally:
        m.delete()


def test_an_untrusted_server_is_a_network_error_naming_it(pki, secure):
    m = memcache.create(secure.spec, **tls_options(pki, "other-ca.pem"))
    try:
        with pytest.raises(memcache.NetworkError) as e:
            m.get("k")
        assert e.value.kind == "IO"
        assert e.value.message == \
            f"{secure.spec}: TLS handshake failed: invalid peer certificate: UnknownIssuer"
    finally:
        m.delete()


def test_a_tls_file_that_cannot_be_read_is_an_invalid_argument(pki, secure):
    with pytest.raises(memcache.InvalidArgument) as e:
        memcache.create(secure.spec, tls=True, tlsca="/nonexistent/ca.pem")
    assert e.value.message == \
        'cannot read the TLS CA file "/nonexistent/ca.pem": No such file or directory (os error 2)'
    with pytest.raises(memcache.InvalidArgument) as e:
        memcache.create(secure.spec, tls=True, tlsca=pki / "ca.pem", tlskey=pki / "client.key")
    assert e.value.message == "a TLS key needs its client certificate"
    assert memcache.list() == []
