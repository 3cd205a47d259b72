"""Object Storage through the real clients, as users start them: python-
swiftclient (`swift`), python-openstackclient (`openstack container/object`)
and openstacksdk from PyPI, and Swift's API over HTTP where a client has no
command, against a freshly started `oxistack serve`."""

import hashlib
import json
import os
import subprocess
import sys

import requests


def swift(cloud, *args, rc=None, check=True):
    res = subprocess.run(["swift", *args], capture_output=True, text=True, env=cloud.rc_env(rc), timeout=300)
    if check and res.returncode != 0:
        raise AssertionError(f"swift {' '.join(args)} failed ({res.returncode}):\n{res.stderr}")
    return res


def account(cloud, rc=None):
    """The storage URL and a token, as the catalog gives them."""
    token = cloud.openstack_json("token", "issue", rc=rc)
    project = token["project_id"]
    return f"{cloud.url}/object/v1/AUTH_{project}", token["id"]


def test_swift_uploads_lists_and_downloads_byte_for_byte(cloud, tmp_path):
    data = os.urandom(50 << 20)
    big = tmp_path / "big.bin"
    big.write_bytes(data)
    (tmp_path / "tree" / "a").mkdir(parents=True)
    for name in ("a/one.txt", "a/two.txt", "b.txt"):
        (tmp_path / "tree" / name).write_text(name)
    swift(cloud, "post", "c1")
    swift(cloud, "upload", "--object-name", "big.bin", "c1", str(big))
    subprocess.run(["swift", "upload", "c1", "."], cwd=tmp_path / "tree", check=True, env=cloud.rc_env(),
                   capture_output=True, timeout=120)
    assert swift(cloud, "list", "c1").stdout.split() == ["a/one.txt", "a/two.txt", "b.txt", "big.bin"]
    assert swift(cloud, "list", "c1", "--prefix", "a/").stdout.split() == ["a/one.txt", "a/two.txt"]
    assert swift(cloud, "list", "c1", "--delimiter", "/").stdout.split() == ["a/", "b.txt", "big.bin"]
    out = tmp_path / "out.bin"
    swift(cloud, "download", "c1", "big.bin", "-o", str(out))
    assert hashlib.md5(out.read_bytes()).hexdigest() == hashlib.md5(data).hexdigest()
    stat = swift(cloud, "stat", "c1", "big.bin").stdout
    assert f"Content Length: {50 << 20}" in stat and hashlib.md5(data).hexdigest() in stat, stat
    # Metadata on the object, the container and the account.
    swift(cloud, "post", "-m", "color:blue", "c1", "b.txt")
    assert "Meta Color: blue" in swift(cloud, "stat", "c1", "b.txt").stdout
    swift(cloud, "post", "-m", "team:storage", "c1")
    stat = swift(cloud, "stat", "c1").stdout
    assert "Meta Team: storage" in stat and "Objects: 4" in stat, stat
    stat = swift(cloud, "stat").stdout
    assert "Containers: 1" in stat and "Objects: 4" in stat and f"Bytes: {(50 << 20) + 23}" in stat, stat
    # The container's totals follow overwrites and deletes.
    swift(cloud, "delete", "c1", "big.bin")
    stat = swift(cloud, "stat", "c1").stdout
    assert "Objects: 3" in stat and "Bytes: 23" in stat, stat


def test_swifts_api_answers_as_swift_does(cloud):
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    r = requests.put(f"{url}/c2", headers=h, timeout=10)
    assert r.status_code == 201 and r.headers["X-Trans-Id"].startswith("tx"), (r.status_code, r.headers)
    assert requests.put(f"{url}/c2", headers=h, timeout=10).status_code == 202
    for i in range(5):
        r = requests.put(f"{url}/c2/o{i}", headers={**h, "Content-Type": "text/plain"}, data=f"object {i}", timeout=10)
        assert r.status_code == 201 and r.headers["ETag"] == hashlib.md5(f"object {i}".encode()).hexdigest()
    # Listings: pages by marker, end_marker, reverse, as JSON and XML.
    page = requests.get(f"{url}/c2", headers=h, params={"format": "json", "limit": 2, "marker": "o0"}, timeout=10)
    assert [o["name"] for o in page.json()] == ["o1", "o2"], page.text
    assert page.json()[0]["bytes"] == 8 and page.json()[0]["content_type"] == "text/plain"
    # Reversed, a marker bounds from above and an end_marker from below.
    r = requests.get(f"{url}/c2", headers=h, params={"marker": "o3", "reverse": "true"}, timeout=10)
    assert r.text.split() == ["o2", "o1", "o0"], r.text
    r = requests.get(f"{url}/c2", headers=h, params={"end_marker": "o3", "reverse": "true"}, timeout=10)
    assert r.text.split() == ["o4"], r.text
    r = requests.get(f"{url}/c2", headers=h, params={"end_marker": "o2"}, timeout=10)
    assert r.text.split() == ["o0", "o1"], r.text
    r = requests.get(f"{url}/c2", headers=h, params={"format": "xml", "prefix": "o4"}, timeout=10)
    assert r.headers["Content-Type"].startswith("application/xml") and "<name>o4</name>" in r.text, r.text
    r = requests.get(f"{url}/c2", headers=h, params={"limit": 10001}, timeout=10)
    assert r.status_code == 412, r.text
    # A wrong ETag stores nothing (422); a range and conditional GETs.
    r = requests.put(f"{url}/c2/bad", headers={**h, "ETag": "0" * 32}, data=b"data", timeout=10)
    assert r.status_code == 422, r.text
    assert requests.head(f"{url}/c2/bad", headers=h, timeout=10).status_code == 404
    r = requests.get(f"{url}/c2/o3", headers={**h, "Range": "bytes=2-4"}, timeout=10)
    assert (r.status_code, r.content, r.headers["Content-Range"]) == (206, b"jec", "bytes 2-4/8")
    assert requests.get(f"{url}/c2/o3", headers={**h, "Range": "bytes=9-"}, timeout=10).status_code == 416
    etag = hashlib.md5(b"object 3").hexdigest()
    assert requests.get(f"{url}/c2/o3", headers={**h, "If-None-Match": etag}, timeout=10).status_code == 304
    assert requests.get(f"{url}/c2/o3", headers={**h, "If-Match": "nope"}, timeout=10).status_code == 412
    # Server-side copies keep the data and the metadata (python-swiftclient
    # sends COPY with a Destination; X-Copy-From is the PUT form).
    assert requests.post(f"{url}/c2/o1", headers={**h, "X-Object-Meta-Kept": "yes"}, timeout=10).status_code == 202
    swift(cloud, "copy", "--destination", "/c2/copied", "c2", "o1")
    r = requests.get(f"{url}/c2/copied", headers=h, timeout=10)
    assert (r.content, r.headers["X-Object-Meta-Kept"], r.headers["Content-Type"]) == (b"object 1", "yes", "text/plain")
    r = requests.put(f"{url}/c2/again", headers={**h, "X-Copy-From": "/c2/o2", "Content-Length": "0"}, timeout=10)
    assert r.status_code == 201 and r.headers["X-Copied-From"] == "c2/o2", (r.status_code, r.text)
    assert requests.get(f"{url}/c2/again", headers=h, timeout=10).content == b"object 2"
    r = requests.put(f"{url}/c2/none", headers={**h, "X-Copy-From": "/c2/missing", "Content-Length": "0"}, timeout=10)
    assert r.status_code == 404, r.text
    for name in ("copied", "again"):
        assert requests.delete(f"{url}/c2/{name}", headers=h, timeout=10).status_code == 204
    # A container with objects is not deleted (409); an empty one is.
    r = requests.delete(f"{url}/c2", headers=h, timeout=10)
    assert r.status_code == 409 and "Conflict" in r.text, r.text
    for i in range(5):
        assert requests.delete(f"{url}/c2/o{i}", headers=h, timeout=10).status_code == 204
    assert requests.delete(f"{url}/c2", headers=h, timeout=10).status_code == 204
    assert requests.get(f"{url}/c2", headers=h, timeout=10).status_code == 404
    # Without a token: 401; metadata past Swift's limits: 400.
    assert requests.get(url, timeout=10).status_code == 401
    r = requests.post(url, headers={**h, "X-Account-Meta-" + "k" * 129: "v"}, timeout=10)
    assert r.status_code == 400, r.text
    info = requests.get(f"{cloud.url}/info", timeout=10).json()["swift"]
    assert info["max_file_size"] == 5368709122 and info["container_listing_limit"] == 10000, info


def test_another_projects_account_is_closed_and_a_reader_only_reads(cloud):
    c = cloud.openstack
    for project, user, role in (("p1", "u1", "member"), ("p2", "u2", "member"), ("p1", "r1", "reader")):
        if project not in c("project", "list", "-f", "value", "-c", "Name").stdout.split():
            c("project", "create", project)
        c("user", "create", "--password", f"pw-{user}", user)
        c("role", "add", "--project", project, "--user", user, role)
    u1, u2 = cloud.user_rc("u1", "p1", "pw-u1"), cloud.user_rc("u2", "p2", "pw-u2")
    r1 = cloud.user_rc("r1", "p1", "pw-r1")
    swift(cloud, "post", "private", rc=u1)
    url, _ = account(cloud, rc=u1)
    _, theirs = account(cloud, rc=u2)
    for method in ("GET", "PUT", "DELETE"):
        r = requests.request(method, f"{url}/private", headers={"X-Auth-Token": theirs}, timeout=10)
        assert r.status_code == 403, (method, r.status_code, r.text)
    assert swift(cloud, "list", rc=u2).stdout.split() == []
    # p1's reader lists and reads, and writes nothing.
    _, reader = account(cloud, rc=r1)
    assert requests.get(url, headers={"X-Auth-Token": reader}, timeout=10).text.split() == ["private"]
    r = requests.put(f"{url}/private/x", headers={"X-Auth-Token": reader}, data=b"x", timeout=10)
    assert r.status_code == 403, r.text


def test_openstackclient_and_openstacksdk_store_objects(cloud, tmp_path):
    f = tmp_path / "hello.txt"
    f.write_text("hello, objects\n")
    cloud.openstack("container", "create", "docs")
    created = cloud.openstack_json("object", "create", "docs", str(f), "--name", "hello.txt")
    assert created[0]["object"] == "hello.txt", created
    listed = cloud.openstack_json("object", "list", "docs")
    assert [o["Name"] for o in listed] == ["hello.txt"], listed
    shown = cloud.openstack_json("object", "show", "docs", "hello.txt")
    assert shown["content-length"] == str(f.stat().st_size) and shown["content-type"] == "text/plain", shown
    cloud.openstack("object", "save", "--file", str(tmp_path / "back.txt"), "docs", "hello.txt")
    assert (tmp_path / "back.txt").read_text() == "hello, objects\n"
    containers = cloud.openstack_json("container", "list")
    assert [c["Name"] for c in containers] == ["docs"], containers
    script = """
import openstack
conn = openstack.connect()
conn.object_store.create_container("sdk")
conn.object_store.upload_object(container="sdk", name="n/1", data=b"sdk data")
assert conn.object_store.download_object("n/1", container="sdk") == b"sdk data"
assert [o.name for o in conn.object_store.objects("sdk")] == ["n/1"]
conn.object_store.delete_object("n/1", container="sdk")
conn.object_store.delete_container("sdk")
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=cloud.rc_env(),
                         timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
    assert json.loads(cloud.openstack("container", "list", "-f", "json").stdout)[0]["Name"] == "docs"
