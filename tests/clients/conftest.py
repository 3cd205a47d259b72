"""Starts real `oxistack serve` processes for the client tests.

Each test gets a freshly started server on its own data dir and port, and
helpers that run the real clients with the environment a user gets from
`source admin-openrc.sh`.

With OXISTACK_TEST_POSTGRES set to the base URL of a PostgreSQL cluster
(`scripts/test.sh` starts a private one), every server keeps its state in a
database of its own there instead of the data dir's SQLite file.
"""

import json
import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

BIN = os.environ.get("OXISTACK_BIN", "oxistack")
POSTGRES = os.environ.get("OXISTACK_TEST_POSTGRES")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
ENGINE = "postgres" if POSTGRES else "sqlite"


def psql(database: str, *args, **kwargs):
    """Runs psql on a database of the test cluster."""
    u = urllib.parse.urlsplit(POSTGRES)
    return subprocess.run([str(PG_BIN / "psql"), "-h", u.hostname, "-p", str(u.port), "-U", u.username or "postgres",
                           "-v", "ON_ERROR_STOP=1", "-qAt", "-d", database, *args], check=True, capture_output=True,
                          text=True, **kwargs)


def new_database() -> str:
    """A new, empty database on the test cluster; its URL."""
    name = f"oxi_{uuid.uuid4().hex[:16]}"
    psql("postgres", "-c", f"CREATE DATABASE {name}")
    return f"{POSTGRES}/{name}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cloud:
    def __init__(self, data_dir: Path, port: int | None = None, database: str | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = data_dir.parent / f"oxistack-{self.port}.log"
        # A database of its own, unless given one another server uses.
        self.database = database or (new_database() if POSTGRES else None)

    def database_args(self):
        return ["--database", self.database] if self.database else []

    def serve_args(self, *extra):
        # API tests run on Nova's fake driver; the QEMU tests ask for qemu.
        driver = [] if "--compute-driver" in extra else ["--compute-driver", "fake"]
        return [BIN, "serve", "--data-dir", str(self.data_dir), *self.database_args(), "--listen",
                f"127.0.0.1:{self.port}", *driver, *extra]

    def sql(self, statement: str, params=()):
        """Runs one statement on the server's database (stopped, for tests that
        write a crash's leftovers into it), with `?` placeholders."""
        for p in params:
            statement = statement.replace("?", "'" + str(p).replace("'", "''") + "'", 1)
        if self.database:
            psql(self.database.rsplit("/", 1)[1], "-c", statement)
        else:
            import sqlite3

            db = sqlite3.connect(self.data_dir / "oxistack.db")
            with db:
                db.execute(statement)
            db.close()

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

    def add_user(self, user, project, role) -> Path:
        """A user `user` (password `pw-<user>`) with `role` on `project`, made
        with the project if it is not there yet; its RC file."""
        if project not in self.openstack("project", "list", "-f", "value", "-c", "Name").stdout.split():
            self.openstack("project", "create", project)
        self.openstack("user", "create", "--password", f"pw-{user}", user)
        self.openstack("role", "add", "--project", project, "--user", user, role)
        return self.user_rc(user, project, f"pw-{user}")

    def user_rc(self, user, project, password) -> Path:
        """An RC file for another user, from `oxistack openrc`."""
        text = subprocess.run(
            [BIN, "openrc", "--data-dir", str(self.data_dir), *self.database_args(), "--user", user, "--project",
             project, "--password", password],
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
