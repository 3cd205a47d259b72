"""Object Storage through the real clients, as users start them: python-
swiftclient (`swift`), python-openstackclient (`openstack container/object`)
and openstacksdk from PyPI, and Swift's API over HTTP where a client has no
command, against a freshly started `oxistack serve`."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

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
    u1, u2 = cloud.add_user("u1", "p1", "member"), cloud.add_user("u2", "p2", "member")
    r1 = cloud.add_user("r1", "p1", "reader")
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


def md5_of(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def test_large_objects_go_up_in_segments_and_come_back_whole(cloud, tmp_path):
    """`swift upload --segment-size` makes a static large object of a 300 MiB
    file (a dynamic one with --use-dlo); each downloads byte for byte, serves
    ranges across its segments, and `swift delete` takes its segments too."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(300):
            f.write(os.urandom(1 << 20))
    swift(cloud, "upload", "--segment-size", str(64 << 20), "--object-name", "big.bin", "media", str(big))
    segments = swift(cloud, "list", "media_segments").stdout.split()
    assert len(segments) == 5 and all(s.startswith("big.bin/slo/") for s in segments), segments
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    r = requests.head(f"{url}/media/big.bin", headers=h, timeout=10)
    assert r.headers["X-Static-Large-Object"] == "True" and r.headers["Content-Length"] == str(300 << 20), r.headers
    out = tmp_path / "out.bin"
    swift(cloud, "download", "media", "big.bin", "-o", str(out))
    assert md5_of(out) == md5_of(big)
    # A range across the first segment's end, and two ranges at once.
    with open(big, "rb") as f:
        f.seek((64 << 20) - 10)
        across = f.read(20)
        f.seek(0)
        head = f.read(2)
        f.seek((300 << 20) - 3)
        tail = f.read(3)
    r = requests.get(f"{url}/media/big.bin", headers={**h, "Range": f"bytes={(64 << 20) - 10}-{(64 << 20) + 9}"},
                     timeout=30)
    assert (r.status_code, r.content) == (206, across), r.status_code
    r = requests.get(f"{url}/media/big.bin", headers={**h, "Range": "bytes=0-1,-3"}, timeout=30)
    boundary = r.headers["Content-Type"].split("boundary=")[1]
    parts = r.content.split(f"--{boundary}".encode())
    assert r.status_code == 206 and len(parts) == 4 and parts[-1] == b"--", r.headers
    assert parts[1].endswith(b"\r\n\r\n" + head + b"\r\n") and b"Content-Range: bytes 0-1/" in parts[1]
    assert parts[2].endswith(b"\r\n\r\n" + tail + b"\r\n")
    # The manifest itself, as python-swiftclient reads it back.
    manifest = requests.get(f"{url}/media/big.bin", headers=h, params={"multipart-manifest": "get"}, timeout=10)
    assert [s["bytes"] for s in manifest.json()] == [64 << 20] * 4 + [44 << 20], manifest.text[:300]
    # A manifest naming a segment with the wrong ETag is refused, naming it.
    bad = json.dumps([{"path": f"/media_segments/{segments[0]}", "etag": "0" * 32, "size_bytes": None}])
    r = requests.put(f"{url}/media/bad", headers=h, params={"multipart-manifest": "put"}, data=bad, timeout=10)
    assert r.status_code == 400 and "Etag Mismatch" in r.text, (r.status_code, r.text)
    swift(cloud, "delete", "media", "big.bin")
    assert swift(cloud, "list", "media_segments").stdout.split() == []
    # A dynamic large object: every object under its prefix, in order.
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(5000))
    swift(cloud, "upload", "--use-dlo", "--segment-size", "1024", "--object-name", "small.bin", "media", str(small))
    r = requests.get(f"{url}/media/small.bin", headers=h, timeout=10)
    assert r.content == small.read_bytes() and r.headers["X-Object-Manifest"].startswith("media_segments/"), r.headers
    swift(cloud, "delete", "media", "small.bin")
    assert swift(cloud, "list", "media_segments").stdout.split() == []


def test_expiring_objects_are_gone_when_due(cloud, tmp_path):
    cloud.stop()
    cloud.start("--object-expirer-interval", "1")
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    f = tmp_path / "soon.txt"
    f.write_text("short-lived")
    swift(cloud, "upload", "-H", "X-Delete-After: 3", "--object-name", "soon", "tmp", str(f))
    swift(cloud, "upload", "--object-name", "later", "tmp", str(f))
    swift(cloud, "upload", "--object-name", "kept", "tmp", str(f))
    due = int(time.time()) + 3
    swift(cloud, "post", "-H", f"X-Delete-At: {due}", "tmp", "later")
    assert requests.head(f"{url}/tmp/later", headers=h, timeout=10).headers["X-Delete-At"] == str(due)
    assert requests.get(f"{url}/tmp/soon", headers=h, timeout=10).text == "short-lived"
    r = requests.post(f"{url}/tmp/kept", headers={**h, "X-Delete-At": str(int(time.time()) - 10)}, timeout=10)
    assert r.status_code == 400 and "X-Delete-At in past" in r.text, r.text
    time.sleep(max(0.0, due - time.time()) + 0.5)
    for name in ("soon", "later"):
        assert requests.get(f"{url}/tmp/{name}", headers=h, timeout=10).status_code == 404
    # The expirer then takes them out of the listing and the totals.
    deadline = time.time() + 30
    while swift(cloud, "list", "tmp").stdout.split() != ["kept"]:
        assert time.time() < deadline, swift(cloud, "list", "tmp").stdout
        time.sleep(0.5)
    assert "Objects: 1" in swift(cloud, "stat", "tmp").stdout


def test_temp_urls_open_one_object_until_they_expire(cloud, tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_text("for your eyes")
    swift(cloud, "upload", "--object-name", "doc.txt", "shared", str(doc))
    swift(cloud, "post", "-m", "Temp-URL-Key:s3cret")
    url, token = account(cloud)
    path = urllib.parse.urlsplit(url).path.removeprefix("/object") + "/shared/doc.txt"

    def signed(*args):
        return cloud.url + "/object" + swift(cloud, "tempurl", *args).stdout.strip()

    def curl(*args):
        return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *args], capture_output=True,
                              text=True, timeout=30).stdout

    get = signed("GET", "60", path, "s3cret")
    res = subprocess.run(["curl", "-sf", "-D", "-", get], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and res.stdout.endswith("for your eyes"), res
    assert 'attachment; filename="doc.txt"' in res.stdout, res.stdout
    assert curl("-I", get) == "200"
    # Not for another method, nor another object, nor with another key.
    assert curl("-X", "DELETE", get) == "401"
    assert curl(get.replace("doc.txt", "other.txt")) == "401"
    assert curl(signed("GET", "60", path, "wrong")) == "401"
    # Expired: refused.
    assert curl(signed("--absolute", "GET", str(int(time.time()) - 5), path, "s3cret")) == "401"
    # SHA-256, a container's own key, and a PUT through a TempURL.
    assert curl(signed("--digest", "sha256", "GET", "60", path, "s3cret")) == "200"
    swift(cloud, "post", "-m", "Temp-URL-Key:ckey", "shared")
    assert curl(signed("GET", "60", path, "ckey")) == "200"
    up = tmp_path / "up.txt"
    up.write_text("put through a temp url")
    put_path = path.replace("doc.txt", "up.txt")
    assert curl("-T", str(up), signed("PUT", "60", put_path, "s3cret")) == "201"
    assert requests.get(f"{url}/shared/up.txt", headers={"X-Auth-Token": token}, timeout=10).text == up.read_text()
    # A TempURL bound to an address range other than the caller's is refused.
    assert curl(signed("--ip-range", "10.9.9.0/24", "GET", "60", path, "s3cret")) == "401"
    assert curl(signed("--ip-range", "127.0.0.1", "GET", "60", path, "s3cret")) == "200"
    # A container's key is not shown to those who cannot change it.
    r = requests.head(f"{url}/shared", headers={"X-Auth-Token": token}, timeout=10)
    assert r.headers["X-Container-Meta-Temp-Url-Key"] == "ckey"


def test_container_acls_let_another_projects_user_read_and_not_write(cloud, tmp_path):
    u1, u2 = cloud.add_user("u1", "p1", "member"), cloud.add_user("u2", "p2", "member")
    p2 = cloud.openstack_json("project", "show", "p2")["id"]
    u2_id = cloud.openstack_json("user", "show", "u2")["id"]
    f = tmp_path / "report.txt"
    f.write_text("quarterly")
    swift(cloud, "upload", "--object-name", "report.txt", "shared", str(f), rc=u1)
    swift(cloud, "upload", "--object-name", "report.txt", "private", str(f), rc=u1)
    url, _ = account(cloud, rc=u1)
    _, theirs = account(cloud, rc=u2)
    as_u2 = ("--os-storage-url", url)
    # Before any ACL: refused.
    assert swift(cloud, *as_u2, "list", "shared", rc=u2, check=False).returncode != 0
    swift(cloud, "post", "-r", f"{p2}:{u2_id}", "shared", rc=u1)
    assert swift(cloud, *as_u2, "list", "shared", rc=u2).stdout.split() == ["report.txt"]
    out = tmp_path / "got.txt"
    swift(cloud, *as_u2, "download", "shared", "report.txt", "-o", str(out), rc=u2)
    assert out.read_text() == "quarterly"
    res = swift(cloud, *as_u2, "upload", "--object-name", "mine.txt", "shared", str(f), rc=u2, check=False)
    assert res.returncode != 0 and "403" in res.stderr, res.stderr
    # The ACL is the owner's to see; the other container stays closed.
    r = requests.head(f"{url}/shared", headers={"X-Auth-Token": theirs}, timeout=10)
    assert r.status_code == 204 and "X-Container-Read" not in r.headers, r.headers
    assert requests.get(f"{url}/private/report.txt", headers={"X-Auth-Token": theirs}, timeout=10).status_code == 403
    # Names in the default domain, and a write ACL for the whole project.
    swift(cloud, "post", "-r", "p2:u2", "-w", "p2:*", "shared", rc=u1)
    swift(cloud, *as_u2, "upload", "--object-name", "mine.txt", "shared", str(f), rc=u2)
    assert "mine.txt" in swift(cloud, "list", "shared", rc=u1).stdout.split()
    # A copy across accounts: from u2's own account into what the ACL opens.
    their_url = account(cloud, rc=u2)[0]
    th = {"X-Auth-Token": theirs}
    requests.put(f"{their_url}/own", headers=th, timeout=10)
    requests.put(f"{their_url}/own/o", headers=th, data=b"from p2", timeout=10)
    to_p1 = {**th, "Destination-Account": url.rsplit("/", 1)[1]}
    r = requests.request("COPY", f"{their_url}/own/o", headers={**to_p1, "Destination": "/shared/from-p2"}, timeout=10)
    assert r.status_code == 201, r.text
    assert swift(cloud, "download", "shared", "from-p2", "-o", "-", rc=u1).stdout == "from p2"
    r = requests.request("COPY", f"{their_url}/own/o", headers={**to_p1, "Destination": "/private/x"}, timeout=10)
    assert r.status_code == 403, r.text
    # Public: anyone reads objects, and lists with .rlistings; no one writes.
    swift(cloud, "post", "-r", ".r:*", "shared", rc=u1)
    assert requests.get(f"{url}/shared/report.txt", timeout=10).text == "quarterly"
    assert requests.get(f"{url}/shared", timeout=10).status_code == 401
    swift(cloud, "post", "-r", ".r:*,.rlistings", "shared", rc=u1)
    assert requests.get(f"{url}/shared", timeout=10).text.split() == ["from-p2", "mine.txt", "report.txt"]
    assert requests.put(f"{url}/shared/anon", data=b"x", timeout=10).status_code == 401
    assert requests.get(f"{url}/private/report.txt", timeout=10).status_code == 401
    r = requests.post(f"{url}/shared", headers={"X-Auth-Token": account(cloud, rc=u1)[1], "X-Container-Read": ".r:"},
                      timeout=10)
    assert r.status_code == 400, r.text


def test_an_account_acl_opens_the_whole_account(cloud, tmp_path):
    u1, u2, u3 = (cloud.add_user(u, p, "member") for u, p in (("a1", "ap1", ), ("a2", "ap2"), ("a3", "ap3")))
    f = tmp_path / "plan.txt"
    f.write_text("the plan")
    swift(cloud, "upload", "--object-name", "plan.txt", "docs", str(f), rc=u1)
    url, owner = account(cloud, rc=u1)
    _, t2 = account(cloud, rc=u2)
    _, t3 = account(cloud, rc=u3)
    as_other = ("--os-storage-url", url)
    assert swift(cloud, *as_other, "list", rc=u2, check=False).returncode != 0
    # ap2 reads everything, a3 of ap3 reads and writes.
    acl = json.dumps({"read-only": ["ap2"], "read-write": ["ap3:a3"]})
    swift(cloud, "post", "-H", f"X-Account-Access-Control: {acl}", rc=u1)
    r = requests.head(url, headers={"X-Auth-Token": owner}, timeout=10)
    assert json.loads(r.headers["X-Account-Access-Control"]) == json.loads(acl)
    assert swift(cloud, *as_other, "list", rc=u2).stdout.split() == ["docs"]
    assert swift(cloud, *as_other, "download", "docs", "plan.txt", "-o", "-", rc=u2).stdout == "the plan"
    r = swift(cloud, *as_other, "upload", "--object-name", "x", "docs", str(f), rc=u2, check=False)
    assert r.returncode != 0 and "403" in r.stderr, r.stderr
    # Grantees see neither the ACL nor the TempURL keys.
    swift(cloud, "post", "-m", "Temp-URL-Key:secret", rc=u1)
    r = requests.head(url, headers={"X-Auth-Token": t2}, timeout=10)
    assert r.status_code == 204 and "X-Account-Access-Control" not in r.headers, r.headers
    assert "X-Account-Meta-Temp-Url-Key" not in r.headers, r.headers
    # Read-write: containers and objects, not the account nor ACLs.
    swift(cloud, *as_other, "upload", "--object-name", "notes.txt", "new", str(f), rc=u3)
    assert swift(cloud, "list", "new", rc=u1).stdout.split() == ["notes.txt"]
    h3 = {"X-Auth-Token": t3}
    assert requests.post(url, headers={**h3, "X-Account-Meta-Color": "red"}, timeout=10).status_code == 403
    assert requests.post(f"{url}/new", headers={**h3, "X-Container-Read": ".r:*"}, timeout=10).status_code == 403
    assert requests.delete(f"{url}/new/notes.txt", headers=h3, timeout=10).status_code == 204
    # A bad ACL is refused; removing it closes the account again.
    r = requests.post(url, headers={"X-Auth-Token": owner, "X-Account-Access-Control": "[1]"}, timeout=10)
    assert r.status_code == 400, r.text
    swift(cloud, "post", "-H", "X-Remove-Account-Access-Control: x", rc=u1)
    assert requests.get(url, headers={"X-Auth-Token": t2}, timeout=10).status_code == 403


def test_quotas_refuse_uploads_past_them(cloud):
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    swift(cloud, "post", "-m", "quota-bytes:10", "-m", "quota-count:2", "q")
    assert requests.put(f"{url}/q/big", headers=h, data=b"x" * 11, timeout=10).status_code == 413
    assert requests.put(f"{url}/q/a", headers=h, data=b"x" * 5, timeout=10).status_code == 201
    # Sent chunked, the size is known only once it is all there.
    r = requests.put(f"{url}/q/b", headers=h, data=iter([b"x" * 4, b"x" * 4]), timeout=10)
    assert r.status_code == 413 and "Upload exceeds quota" in r.text, (r.status_code, r.text)
    assert requests.put(f"{url}/q/b", headers=h, data=b"x" * 5, timeout=10).status_code == 201
    assert requests.put(f"{url}/q/c", headers=h, data=b"x", timeout=10).status_code == 413
    assert "Objects: 2" in swift(cloud, "stat", "q").stdout
    # An account's quota is a reseller admin's to set, not its members'.
    r = requests.post(url, headers={**h, "X-Account-Meta-Quota-Bytes": "100"}, timeout=10)
    assert r.status_code == 403, r.text
    t = cloud.add_user("t", "tenant", "member")
    cloud.openstack("role", "create", "ResellerAdmin")
    cloud.openstack("role", "add", "--project", "admin", "--user", "admin", "ResellerAdmin")
    theirs, their_token = account(cloud, rc=t)
    _, reseller = account(cloud)
    r = requests.post(theirs, headers={"X-Auth-Token": reseller, "X-Account-Meta-Quota-Bytes": "8"}, timeout=10)
    assert r.status_code == 204, r.text
    th = {"X-Auth-Token": their_token}
    assert requests.put(f"{theirs}/box", headers=th, timeout=10).status_code == 201
    assert requests.put(f"{theirs}/box/a", headers=th, data=b"x" * 9, timeout=10).status_code == 413
    assert requests.put(f"{theirs}/box/a", headers=th, data=b"x" * 8, timeout=10).status_code == 201


def test_a_kill_during_an_upload_leaves_the_object_absent_or_whole(cloud):
    """`kill -9` of the server in the middle of a large upload: after the
    restart the object is absent, the container's count and bytes are what
    it holds, and no partial data is left in the store."""
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    assert requests.put(f"{url}/c", headers=h, timeout=10).status_code == 201
    assert requests.put(f"{url}/c/kept", headers=h, data=b"k" * 1000, timeout=10).status_code == 201
    sent = 0

    def body():
        nonlocal sent
        block = os.urandom(1 << 20)
        for _ in range(256):
            yield block
            sent += len(block)
            if sent == 32 << 20:
                cloud.proc.send_signal(signal.SIGKILL)
                cloud.proc.wait(timeout=30)

    try:
        # Sent chunked, as a client streaming from a pipe sends it.
        r = requests.put(f"{url}/c/big", headers=h, data=body(), timeout=60)
        raise AssertionError(f"the upload outlived the server: {r.status_code} {r.text} {sent}")
    except requests.exceptions.ConnectionError:
        pass
    assert sent >= 32 << 20
    # Data stored but never indexed, as a kill between the two leaves it:
    # the restart sweeps it away, and only it.
    orphan = cloud.data_dir / "objects" / "data" / "ab" / "ab6f7c1e-3b0e-4a55-9d3c-5a0e8f1b2c3d"
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"o" * 4096)
    cloud.start()
    _, token = account(cloud)
    h = {"X-Auth-Token": token}
    assert requests.head(f"{url}/c/big", headers=h, timeout=10).status_code == 404
    r = requests.head(f"{url}/c", headers=h, timeout=10)
    assert (r.headers["X-Container-Object-Count"], r.headers["X-Container-Bytes-Used"]) == ("1", "1000"), r.headers
    store = cloud.data_dir / "objects"
    assert list((store / "tmp").iterdir()) == []
    deadline = time.time() + 30
    while orphan.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert sum(1 for p in (store / "data").rglob("*") if p.is_file()) == 1
    assert requests.get(f"{url}/c/kept", headers=h, timeout=10).content == b"k" * 1000


def test_versioned_containers_keep_older_versions(cloud):
    """`X-Versions-Location` (a delete brings the last version back) and
    `X-History-Location` (a delete archives the object too)."""
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    for c in ("versions", "history"):
        assert requests.put(f"{url}/{c}", headers=h, timeout=10).status_code == 201
    r = requests.put(f"{url}/docs", headers={**h, "X-Versions-Location": "versions"}, timeout=10)
    assert r.status_code == 201, r.text
    assert requests.head(f"{url}/docs", headers=h, timeout=10).headers["X-Versions-Location"] == "versions"
    for v in ("v1", "v2", "v3"):
        assert requests.put(f"{url}/docs/a", headers=h, data=v, timeout=10).status_code == 201
    assert requests.get(f"{url}/docs/a", headers=h, timeout=10).text == "v3"
    archived = requests.get(f"{url}/versions", headers=h, params={"prefix": "001a/"}, timeout=10).text.split()
    assert len(archived) == 2, archived
    for expected in ("v2", "v1"):
        assert requests.delete(f"{url}/docs/a", headers=h, timeout=10).status_code == 204
        assert requests.get(f"{url}/docs/a", headers=h, timeout=10).text == expected
    assert requests.delete(f"{url}/docs/a", headers=h, timeout=10).status_code == 204
    assert requests.get(f"{url}/docs/a", headers=h, timeout=10).status_code == 404
    assert requests.get(f"{url}/versions", headers=h, timeout=10).status_code == 204
    # History: every version stays, the deleted one too.
    swift(cloud, "post", "-H", "X-History-Location: history", "hist")
    for v in ("h1", "h2"):
        assert requests.put(f"{url}/hist/b", headers=h, data=v, timeout=10).status_code == 201
    assert requests.delete(f"{url}/hist/b", headers=h, timeout=10).status_code == 204
    assert requests.get(f"{url}/hist/b", headers=h, timeout=10).status_code == 404
    kept = requests.get(f"{url}/history", headers=h, params={"format": "json"}, timeout=10).json()
    assert [requests.get(f"{url}/history/{o['name']}", headers=h, timeout=10).text for o in kept] == ["h1", "h2"]
    r = requests.post(f"{url}/docs", headers={**h, "X-Versions-Location": "a", "X-History-Location": "b"},
                      timeout=10)
    assert r.status_code == 400, r.text


def test_tempauth_logs_python_swiftclient_in(cloud, tmp_path):
    """python-swiftclient's default `auth_version` 1.0: `swift -A .../auth/v1.0
    -U project:user -K password`, as against Swift's TempAuth."""
    cloud.add_user("u1", "p1", "member")
    p1 = cloud.openstack_json("project", "show", "p1")["id"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "ST_"))}
    v1 = ["swift", "-A", f"{cloud.url}/auth/v1.0", "-U", "p1:u1", "-K", "pw-u1"]
    shown = subprocess.run([*v1, "auth"], capture_output=True, text=True, env=env, timeout=60)
    assert shown.returncode == 0 and f"/object/v1/AUTH_{p1}" in shown.stdout, shown
    f = tmp_path / "note.txt"
    f.write_text("through tempauth")
    up = subprocess.run([*v1, "upload", "--object-name", "note.txt", "notes", str(f)], capture_output=True,
                        text=True, env=env, timeout=60)
    assert up.returncode == 0, up.stderr
    listed = subprocess.run([*v1, "list", "notes"], capture_output=True, text=True, env=env, timeout=60)
    assert listed.stdout.split() == ["note.txt"], listed
    wrong = subprocess.run(["swift", "-A", f"{cloud.url}/auth/v1.0", "-U", "p1:u1", "-K", "nope", "list"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode != 0 and "401" in wrong.stderr, wrong.stderr


def test_swift_delete_takes_a_container_in_bulk(cloud, tmp_path):
    """`swift delete <container>` asks for Swift's bulk delete when `/info`
    offers it: every object and the container go in one request per page."""
    src = tmp_path / "many"
    src.mkdir()
    for i in range(40):
        (src / f"f{i:02}.txt").write_text(str(i))
    subprocess.run(["swift", "upload", "bulk", "."], cwd=src, check=True, env=cloud.rc_env(), capture_output=True,
                   timeout=120)
    assert len(swift(cloud, "list", "bulk").stdout.split()) == 40
    assert swift(cloud, "delete", "bulk").returncode == 0
    assert "bulk" not in swift(cloud, "list").stdout.split()
    # The bulk request itself: what went, what was not there, what could not.
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    requests.put(f"{url}/full", headers=h, timeout=10)
    requests.put(f"{url}/full/kept", headers=h, data=b"k", timeout=10)
    r = requests.post(url, params={"bulk-delete": ""}, data="/full/missing\n/full\n",
                      headers={**h, "Accept": "application/json", "Content-Type": "text/plain"}, timeout=10)
    body = r.json()
    assert (body["Number Deleted"], body["Number Not Found"]) == (0, 1), body
    assert body["Errors"] == [["/full", "409 Conflict"]], body


def test_an_archive_uploads_as_its_files(cloud, tmp_path):
    """`?extract-archive=tar.gz` (Swift's bulk middleware): a tree made by
    GNU tar, long names too, becomes one object per file; a broken archive
    and a reader are refused."""
    tree = tmp_path / "site"
    (tree / "css").mkdir(parents=True)
    (tree / "index.html").write_text("<h1>home</h1>")
    (tree / "css" / "main.css").write_text("body {}")
    deep = tree / ("d" * 120)
    deep.mkdir()
    (deep / "long.txt").write_bytes(os.urandom(70000))
    archive = tmp_path / "site.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(tree), "."], check=True)
    url, token = account(cloud)
    h = {"X-Auth-Token": token, "Accept": "application/json"}
    # Into a container and prefix that do not exist yet.
    r = requests.put(f"{url}/www/v1", headers=h, params={"extract-archive": "tar.gz"}, data=archive.read_bytes(),
                     timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["Response Status"] == "201 Created" and r.json()["Number Files Created"] == 3, r.text
    listed = swift(cloud, "list", "www").stdout.split()
    assert listed == sorted(["v1/index.html", "v1/css/main.css", f"v1/{'d' * 120}/long.txt"]), listed
    out = tmp_path / "long.txt"
    swift(cloud, "download", "www", f"v1/{'d' * 120}/long.txt", "-o", str(out))
    assert out.read_bytes() == (deep / "long.txt").read_bytes()
    got = requests.head(f"{url}/www/v1/index.html", headers=h, timeout=10)
    assert got.headers["Content-Type"].startswith("text/html"), got.headers
    # At the account, a file's first directory is its container.
    plain = tmp_path / "two.tar"
    subprocess.run(["tar", "-cf", str(plain), "-C", str(tree), "css", "index.html"], check=True)
    r = requests.put(url, headers={"X-Auth-Token": token}, params={"extract-archive": "tar"},
                     data=plain.read_bytes(), timeout=60)
    assert "Number Files Created: 1" in r.text and "Response Status: 400 Bad Request" in r.text, r.text
    assert "index.html, 400 Bad Request" in r.text, r.text
    assert swift(cloud, "list", "css").stdout.split() == ["main.css"]
    # `swift capabilities` shows what /info offers.
    caps = swift(cloud, "capabilities").stdout
    assert "bulk_upload" in caps and "max_containers_per_extraction: 10000" in caps, caps
    # Not an archive; an unknown format; a reader.
    r = requests.put(f"{url}/www", headers=h, params={"extract-archive": "tar.gz"}, data=b"x" * 1000, timeout=10)
    assert r.json()["Response Status"] == "400 Bad Request" and "Invalid Tar File" in r.json()["Response Body"]
    r = requests.put(f"{url}/www", headers=h, params={"extract-archive": "zip"}, data=b"x", timeout=10)
    assert r.status_code == 400 and "Unsupported archive format" in r.text, r.text
    reader = cloud.add_user("ro", "admin", "reader")
    _, ro = account(cloud, rc=reader)
    r = requests.put(f"{url}/www", headers={"X-Auth-Token": ro}, params={"extract-archive": "tar"},
                     data=plain.read_bytes(), timeout=10)
    assert r.status_code == 403, r.text


def test_a_manifest_put_with_heartbeat_answers_at_once_and_reports_at_the_end(cloud):
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    requests.put(f"{url}/parts", headers=h, timeout=10)
    for i in range(2):
        assert requests.put(f"{url}/parts/p{i}", headers=h, data=b"%d" % i * 10, timeout=10).status_code == 201
    manifest = json.dumps([{"path": f"/parts/p{i}"} for i in range(2)])
    r = requests.put(f"{url}/parts/whole", headers={**h, "Accept": "application/json"},
                     params={"multipart-manifest": "put", "heartbeat": "on"}, data=manifest, timeout=30)
    assert r.status_code == 202, r.text
    done = json.loads(r.text.strip())
    assert done["Response Status"] == "201 Created" and done["Etag"].strip('"'), done
    assert requests.get(f"{url}/parts/whole", headers=h, timeout=10).content == b"0" * 10 + b"1" * 10
    bad = json.dumps([{"path": "/parts/missing"}])
    r = requests.put(f"{url}/parts/bad", headers=h, params={"multipart-manifest": "put", "heartbeat": "on"},
                     data=bad, timeout=30)
    assert r.status_code == 202 and "Response Status: 400 Bad Request" in r.text, r.text


def test_symlinks_serve_what_they_name(cloud):
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    for c in ("links", "data"):
        requests.put(f"{url}/{c}", headers=h, timeout=10)
    requests.put(f"{url}/data/target", headers=h, data=b"pointed at", timeout=10)
    r = requests.put(f"{url}/links/one", headers={**h, "X-Symlink-Target": "data/target"}, data=b"", timeout=10)
    assert r.status_code == 201, r.text
    r = requests.get(f"{url}/links/one", headers=h, timeout=10)
    assert r.content == b"pointed at" and r.headers["Content-Location"].endswith("/data/target"), r.headers
    r = requests.get(f"{url}/links/one", headers=h, params={"symlink": "get"}, timeout=10)
    assert r.content == b"" and r.headers["X-Symlink-Target"] == "data/target", r.headers
    listed = requests.get(f"{url}/links", headers=h, params={"format": "json"}, timeout=10).json()
    assert listed[0]["symlink_path"].endswith("/data/target"), listed
    # Two hops are followed, a third is a loop as far as Swift is concerned.
    requests.put(f"{url}/links/two", headers={**h, "X-Symlink-Target": "links/one"}, data=b"", timeout=10)
    assert requests.get(f"{url}/links/two", headers=h, timeout=10).content == b"pointed at"
    requests.put(f"{url}/links/three", headers={**h, "X-Symlink-Target": "links/two"}, data=b"", timeout=10)
    assert requests.get(f"{url}/links/three", headers=h, timeout=10).status_code == 409
    r = requests.put(f"{url}/links/bad", headers={**h, "X-Symlink-Target": "data/target"}, data=b"x", timeout=10)
    assert r.status_code == 400, r.text
    requests.delete(f"{url}/data/target", headers=h, timeout=10)
    assert requests.get(f"{url}/links/one", headers=h, timeout=10).status_code == 404


def test_a_public_container_serves_itself_as_a_web_site(cloud):
    """Swift's staticweb: index pages, listings, the trailing-slash redirect
    and the error page, to requests without a token."""
    url, token = account(cloud)
    h = {"X-Auth-Token": token}
    swift(cloud, "post", "-r", ".r:*,.rlistings", "-m", "web-index:index.html", "-m", "web-error:.html",
          "-m", "web-listings:true", "site")
    for name, body in (("index.html", "<h1>home</h1>"), ("docs/a.txt", "a"), ("404.html", "<p>missing</p>")):
        r = requests.put(f"{url}/site/{name}", headers=h, data=body, timeout=10)
        assert r.status_code == 201, r.text
    r = requests.get(f"{url}/site", allow_redirects=False, timeout=10)
    assert r.status_code == 301 and r.headers["Location"].endswith("/site/"), (r.status_code, r.headers)
    r = requests.get(f"{url}/site/", timeout=10)
    assert r.text == "<h1>home</h1>", r.text
    r = requests.get(f"{url}/site/docs", allow_redirects=False, timeout=10)
    assert r.status_code == 301 and r.headers["Location"].endswith("/site/docs/"), r.headers
    r = requests.get(f"{url}/site/docs/", timeout=10)
    assert r.status_code == 200 and 'href="a.txt"' in r.text and r.headers["Content-Type"].startswith("text/html")
    r = requests.get(f"{url}/site/nothing-here", timeout=10)
    assert (r.status_code, r.text) == (404, "<p>missing</p>"), (r.status_code, r.text)
    # With a token the container is a container, not a site.
    r = requests.get(f"{url}/site", headers=h, timeout=10)
    assert r.text.split() == ["404.html", "docs/a.txt", "index.html"], r.text


def test_formpost_takes_a_browsers_upload(cloud, tmp_path):
    """Swift's FormPost, posted by curl as a browser posts a form: signed with
    the account's TempURL key, each file an object under the prefix."""
    import hmac
    swift(cloud, "post", "-m", "Temp-URL-Key:formkey")
    swift(cloud, "post", "uploads")
    url, token = account(cloud)
    path = urllib.parse.urlsplit(url).path.removeprefix("/object") + "/uploads/in/"
    (tmp_path / "a.txt").write_text("first file")
    (tmp_path / "b.txt").write_text("second file")
    (tmp_path / "big.bin").write_bytes(b"x" * 2000)

    def post(files, expires=None, key=b"formkey", count=2):
        expires = expires or int(time.time()) + 600
        signed = f"{path}\n\n1024\n{count}\n{expires}".encode()
        sig = hmac.new(key, signed, hashlib.sha1).hexdigest()
        fields = ["-F", "redirect=", "-F", "max_file_size=1024", "-F", f"max_file_count={count}",
                  "-F", f"expires={expires}", "-F", f"signature={sig}"]
        for i, f in enumerate(files):
            fields += ["-F", f"file{i}=@{tmp_path / f}"]
        return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *fields,
                               f"{cloud.url}/object{path}"], capture_output=True, text=True, timeout=30).stdout

    assert post(["a.txt", "b.txt"]) == "201"
    h = {"X-Auth-Token": token}
    assert requests.get(f"{url}/uploads/in/a.txt", headers=h, timeout=10).text == "first file"
    assert requests.get(f"{url}/uploads/in/b.txt", headers=h, timeout=10).text == "second file"
    assert post(["a.txt"], key=b"wrong") == "401"
    assert post(["a.txt"], expires=int(time.time()) - 5) == "401"
    assert post(["big.bin"]) == "400"
    assert post(["a.txt", "b.txt", "a.txt"]) == "400"
    assert requests.head(f"{url}/uploads/in/big.bin", headers=h, timeout=10).status_code == 404
