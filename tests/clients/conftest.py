"""Starts real `oxistack serve` processes for the client tests.

Each test gets a freshly started server on its own data dir and port, and
helpers that run the real clients with the environment a user gets from
`source admin-openrc.sh`.
"""

import json
import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

BIN = os.environ.get("OXISTACK_BIN", "oxistack")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cloud:
    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = data_dir.parent / f"oxistack-{self.port}.log"

    def serve_args(self, *extra):
        # API tests run on Nova's fake driver; the QEMU tests ask for qemu.
        driver = [] if "--compute-driver" in extra else ["--compute-driver", "fake"]
        return [BIN, "serve", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}", *driver, *extra]

    def start(self, *extra, env=None):
        self.proc = subprocess.Popen(
            self.serve_args(*extra),
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oxistack exited with {self.proc.returncode}: {self.log.read_text()}")
            try:
                urllib.request.urlopen(f"{self.url}/identity/v3", timeout=2)
                if (self.data_dir / "admin-openrc.sh").exists():
                    return self
            except OSError:  # refused, reset, or not answered yet (the listener is bound before it serves)
                pass
            time.sleep(0.1)
        raise RuntimeError("oxistack did not start in 60 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc = None

    def rc_env(self, rc: Path | str | None = None) -> dict:
        """The environment after `source <rc>` (the admin's RC file by default)."""
        rc = rc or self.data_dir / "admin-openrc.sh"
        out = subprocess.run(
            ["bash", "-c", f"source {shlex.quote(str(rc))} && env -0"],
            check=True,
            capture_output=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("OS_")},
        ).stdout.decode()
        return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)

    def openstack(self, *args, rc=None, env=None, check=True):
        """Runs python-openstackclient as a user would (with the environment of
        `rc`, or `env` as given); returns the result."""
        env = env if env is not None else self.rc_env(rc)
        res = subprocess.run(["openstack", *args], capture_output=True, text=True, env=env, timeout=120)
        if check and res.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed ({res.returncode}):\n{res.stderr}")
        return res

    def openstack_json(self, *args, rc=None, env=None):
        return json.loads(self.openstack(*args, "-f", "json", rc=rc, env=env).stdout)

    def user_rc(self, user, project, password) -> Path:
        """An RC file for another user, from `oxistack openrc`."""
        text = subprocess.run(
            [BIN, "openrc", "--data-dir", str(self.data_dir), "--user", user, "--project", project, "--password",
             password],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        path = self.data_dir.parent / f"{user}-{project}-openrc.sh"
        path.write_text(text)
        return path


@pytest.fixture
def cloud(tmp_path):
    c = Cloud(tmp_path / "data").start()
    yield c
    c.stop()
