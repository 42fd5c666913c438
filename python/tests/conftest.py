"""Test support: real memcached servers, started on free ports (or socket
files in a temporary directory) and stopped after the test."""

import os
import shutil
import socket
import subprocess
import time

import pytest

import memcache

MEMCACHED = os.environ.get("MEMCACHED") or shutil.which("memcached") or "memcached"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One memcached on 127.0.0.1:<free port>; ``spec`` names it."""

    def __init__(self, *args):
        self.args = args
        self.process = None
        for _ in range(20):
            self.port = free_port()
            self.spec = f"127.0.0.1:{self.port}"
            if self.start():
                return
        raise RuntimeError("could not start memcached on a free port")

    def start(self):
        """Starts memcached on the port; False if another process holds it
        (the server answering must be this one: its pid, from its stats)."""
        user = ["-u", "root"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(
            [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", *user, *self.args])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self.answering_pid() == self.process.pid:
                return True
            time.sleep(0.01)
        raise RuntimeError(f"memcached on port {self.port} did not start")

    def connect(self):
        """A socket to the server, for the readiness check."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=0.5)

    def answering_pid(self):
        """The pid the server on the port reports, or None."""
        try:
            with self.connect() as s:
                s.sendall(b"stats\r\n")
                reply = b""
                while not reply.endswith(b"END\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        return None
                    reply += chunk
        except OSError:
            return None
        for line in reply.split(b"\r\n"):
            if line.startswith(b"STAT pid "):
                return int(line.split()[2])
        return None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def servers():
    started = [Server(), Server(), Server()]
    yield started
    for s in started:
        s.stop()


@pytest.fixture
def m(server):
    handle = memcache.create(server.spec)
    yield handle
    memcache.delete("all")


@pytest.fixture
def mc(server):
    client = memcache.Client([server.spec])
    yield client
    client.disconnect_all()
