"""Limits that protect the host, against a freshly started `oxistack serve`:
the image quota holds under concurrent uploads and counts staged data, a
burst of hostile requests (huge and deeply nested bodies, bad paging,
pathological patterns, a hundred concurrent failed logins) gets error
bodies and leaves the server answering, and the data dir's secrets are 0600
whatever the umask."""

import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import Cloud


def token(cloud):
    return cloud.openstack_json("token", "issue")["id"]


def slow_body(total, chunk=64 * 1024, pause=0.02):
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        sent += n
        time.sleep(pause)
        yield b"\0" * n


def test_concurrent_uploads_and_staged_data_stay_within_the_quota(tmp_path):
    cloud = Cloud(tmp_path / "data").start("--image-quota-bytes", "1000000")
    try:
        h = {"X-Auth-Token": token(cloud)}
        base = f"{cloud.url}/image/v2/images"

        def new():
            r = requests.post(base, headers=h, json={"name": "q", "disk_format": "raw", "container_format": "bare"})
            return r.json()["id"]

        ids = [new() for _ in range(4)]
        barrier = threading.Barrier(len(ids))

        def upload(iid):
            barrier.wait()
            return requests.put(f"{base}/{iid}/file", data=slow_body(400_000),
                                headers={**h, "Content-Type": "application/octet-stream"}).status_code

        with ThreadPoolExecutor(len(ids)) as pool:
            codes = list(pool.map(upload, ids))
        assert set(codes) <= {204, 413} and 413 in codes, codes
        stored = sum(requests.get(f"{base}/{i}", headers=h).json()["size"] or 0 for i in ids)
        assert stored <= 1_000_000, stored
        for i in ids:
            requests.delete(f"{base}/{i}", headers=h)
        # What the refused uploads had taken is given back.
        r = requests.put(f"{base}/{new()}/file", data=b"\0" * 900_000,
                         headers={**h, "Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
        requests.delete(f"{base}/{r.url.split('/')[-2]}", headers=h)

        # Staged data counts: after 900 kB staged, 200 kB more do not fit.
        staged, other = new(), new()
        r = requests.put(f"{base}/{staged}/stage", data=b"\0" * 900_000,
                         headers={**h, "Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
        r = requests.put(f"{base}/{other}/file", data=b"\0" * 200_000,
                         headers={**h, "Content-Type": "application/octet-stream"})
        assert r.status_code == 413 and "quota" in r.text, r.text
        assert requests.post(f"{base}/{staged}/import", headers=h,
                             json={"method": {"name": "glance-direct"}}).status_code == 202
    finally:
        cloud.stop()


def test_a_burst_of_hostile_requests_gets_error_bodies_and_the_server_keeps_serving(cloud):
    tok = token(cloud)
    h = {"X-Auth-Token": tok}
    u = cloud.url
    # Huge and deeply nested bodies.
    huge = b'{"server": {"name": "' + b"x" * (20 << 20) + b'"}}'
    for path in ["/compute/v2.1/servers", "/network/v2.0/networks", "/identity/v3/projects", "/image/v2/images"]:
        r = requests.post(f"{u}{path}", data=huge, headers={**h, "Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (path, r.status_code)
        nested = b"[" * 100_000 + b"]" * 100_000
        r = requests.post(f"{u}{path}", data=nested, headers={**h, "Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
    # Paging and filters out of range.
    for path in ["/image/v2/images?limit=0", "/compute/v2.1/servers?limit=0", "/network/v2.0/networks?limit=0"]:
        r = requests.get(f"{u}{path}", headers=h)
        assert r.status_code == 200, (path, r.status_code, r.text)
    for path in ["/image/v2/images?limit=-1", "/image/v2/images?limit=abc", "/image/v2/images?marker=nope",
                 "/compute/v2.1/servers?limit=-1", "/compute/v2.1/servers?marker=nope",
                 "/network/v2.0/networks?limit=-1", "/network/v2.0/networks?marker=nope",
                 "/compute/v2.1/servers?name=" + "(" * 200, "/compute/v2.1/servers?name=(a{1000}){1000}"]:
        r = requests.get(f"{u}{path}", headers=h)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
    # A pathological pattern is answered in linear time, not backtracked.
    started = time.monotonic()
    r = requests.get(f"{u}/compute/v2.1/servers", params={"name": "(a*)*b" * 10}, headers=h)
    assert r.status_code == 200 and time.monotonic() - started < 30, r.text

    # A hundred concurrent failed logins: refused or told to come back, never a hang or a 500.
    def bad_login(i):
        return requests.post(f"{u}/identity/v3/auth/tokens", timeout=120, json={"auth": {"identity": {
            "methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"},
                                                          "password": f"wrong-{i}"}}}}})

    with ThreadPoolExecutor(100) as pool:
        answers = list(pool.map(bad_login, range(100)))
    codes = [r.status_code for r in answers]
    assert set(codes) <= {401, 503}, codes
    for r in answers:
        if r.status_code == 503:
            assert r.headers.get("Retry-After") and r.json()["error"]["code"] == 503, r.text
    # Still serving, correctly.
    assert cloud.openstack_json("token", "issue")["id"]
    assert requests.get(f"{u}/compute/v2.1/servers", headers=h).status_code == 200
    assert requests.get(f"{u}/network/v2.0/networks", headers=h).json()["networks"]


def test_secrets_in_the_data_dir_are_private_whatever_the_umask(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    old = os.umask(0o022)
    try:
        cloud = Cloud(data).start()
    finally:
        os.umask(old)
    try:
        # On PostgreSQL the database is the cluster's, not a file here.
        database = ["oxistack.db", "oxistack.db-wal", "oxistack.db-shm"] if cloud.database is None else []
        for name in [*database, "admin-openrc.sh", "clouds.yaml"]:
            path = data / name
            assert path.exists(), name
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == 0o600, f"{name} is {oct(mode)}"
    finally:
        cloud.stop()
