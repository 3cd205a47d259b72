"""Image with python-openstackclient, python-glanceclient and plain HTTP,
against a freshly started `oxistack serve`."""

import hashlib
import os
import socket
import subprocess
import time

import requests

from conftest import Cloud


def qcow2(path, megabytes=0):
    """A real qcow2: `megabytes` of random data converted, or an empty 1 GiB disk."""
    if megabytes:
        raw = f"{path}.raw"
        with open(raw, "wb") as f:
            f.write(os.urandom(megabytes << 20))
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, str(path)], check=True)
        os.remove(raw)
    else:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1G"], check=True)
    return path


def token(cloud, rc=None):
    return cloud.openstack_json("token", "issue", rc=rc)["id"]


def test_image_lifecycle_with_the_clients(cloud, tmp_path):
    src = qcow2(tmp_path / "disk.qcow2", 50)
    assert os.path.getsize(src) > 50 << 20
    img = cloud.openstack_json("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                               "--file", str(src), "--property", "k=v", "img1")
    assert img["status"] == "active" and img["size"] == os.path.getsize(src)
    # The hashes are of the bytes sent, as computed here.
    data = src.read_bytes()
    got = requests.get(f"{cloud.url}/image/v2/images/{img['id']}", headers={"X-Auth-Token": token(cloud)}).json()
    assert got["checksum"] == hashlib.md5(data).hexdigest()
    assert got["os_hash_algo"] == "sha512" and got["os_hash_value"] == hashlib.sha512(data).hexdigest()
    listed = cloud.openstack_json("image", "list")
    assert [(i["Name"], i["Status"]) for i in listed] == [("img1", "active")]
    shown = cloud.openstack_json("image", "show", "img1")
    assert shown["properties"]["k"] == "v"
    assert shown["disk_format"] == "qcow2" and shown["virtual_size"] == 50 << 20

    out = tmp_path / "saved.qcow2"
    cloud.openstack("image", "save", "--file", str(out), "img1")
    assert subprocess.run(["cmp", str(src), str(out)]).returncode == 0

    cloud.openstack("image", "set", "--tag", "t1", "img1")
    assert cloud.openstack_json("image", "show", "img1")["tags"] == ["t1"]
    glance = subprocess.run(["glance", "image-list"], capture_output=True, text=True, env=cloud.rc_env())
    assert glance.returncode == 0, glance.stderr
    assert img["id"] in glance.stdout and "img1" in glance.stdout

    cloud.openstack("image", "delete", "img1")
    assert cloud.openstack_json("image", "list") == []
    assert not (cloud.data_dir / "images" / img["id"]).exists()


def test_private_images_stay_in_their_project_until_shared_and_accepted(cloud, tmp_path):
    cloud.openstack("project", "create", "b")
    cloud.openstack("user", "create", "--password", "pw-b", "--project", "b", "bob")
    cloud.openstack("role", "add", "--project", "b", "--user", "bob", "member")
    bob = cloud.user_rc("bob", "b", "pw-b")
    b_id = cloud.openstack_json("project", "show", "b")["id"]

    img = cloud.openstack_json("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                               "--file", str(qcow2(tmp_path / "a.qcow2")), "--private", "secret")
    assert cloud.openstack_json("image", "list", rc=bob) == []
    assert cloud.openstack("image", "show", img["id"], rc=bob, check=False).returncode != 0

    cloud.openstack("image", "set", "--shared", img["id"])
    cloud.openstack("image", "add", "project", img["id"], b_id)
    # Pending: not listed for B yet.
    assert cloud.openstack_json("image", "list", rc=bob) == []
    cloud.openstack("image", "set", "--accept", img["id"], rc=bob)
    assert [i["Name"] for i in cloud.openstack_json("image", "list", rc=bob)] == ["secret"]
    # B may read it but not change it.
    out = tmp_path / "b.qcow2"
    cloud.openstack("image", "save", "--file", str(out), img["id"], rc=bob)
    assert out.read_bytes() == (tmp_path / "a.qcow2").read_bytes()
    assert cloud.openstack("image", "delete", img["id"], rc=bob, check=False).returncode != 0
    # Only admins publish.
    refused = cloud.openstack("image", "create", "--public", "pub", rc=bob, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr


def cut_off_upload(cloud, image_id, tok, sent, announced):
    """Sends `sent` bytes of an upload that announced `announced`, then hangs up."""
    with socket.create_connection(("127.0.0.1", cloud.port)) as s:
        s.sendall((f"PUT /image/v2/images/{image_id}/file HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\n"
                   f"Content-Type: application/octet-stream\r\nContent-Length: {announced}\r\n\r\n").encode())
        s.sendall(b"\0" * sent)
    time.sleep(1)


def test_bad_input_and_interrupted_uploads(cloud, tmp_path):
    tok = token(cloud)
    h = {"X-Auth-Token": tok}
    base = f"{cloud.url}/image/v2/images"
    r = requests.post(base, headers=h, json={"name": "x", "disk_format": "floppy", "container_format": "bare"})
    assert r.status_code == 400 and "floppy" in r.text

    r = requests.post(base, headers=h, json={"name": "raw", "disk_format": "raw", "container_format": "bare"})
    assert r.status_code == 201
    iid = r.json()["id"]
    r = requests.get(f"{base}/{iid}/file", headers=h)
    assert r.status_code == 204

    cut_off_upload(cloud, iid, tok, 100_000, 1_000_000)
    assert requests.get(f"{base}/{iid}", headers=h).json()["status"] == "queued"
    assert os.listdir(cloud.data_dir / "images" / "tmp") == []
    assert not (cloud.data_dir / "images" / iid).exists()

    data = os.urandom(300_000)
    r = requests.put(f"{base}/{iid}/file", headers={**h, "Content-Type": "application/octet-stream"}, data=data)
    assert r.status_code == 204, r.text
    r = requests.put(f"{base}/{iid}/file", headers={**h, "Content-Type": "application/octet-stream"}, data=data)
    assert r.status_code == 409 and r.text.startswith("409 Conflict"), r.text
    r = requests.get(f"{base}/{iid}/file", headers={**h, "Range": "bytes=1000-1999"})
    assert r.status_code == 206 and r.content == data[1000:2000]
    assert r.headers["Content-Range"] == "bytes 1000-1999/300000"
    r = requests.get(f"{base}/{iid}/file", headers=h)
    assert r.content == data and len(r.headers["Content-MD5"]) == 32

    # Random bytes are not a qcow2: refused, nothing kept.
    r = requests.post(base, headers=h, json={"name": "liar", "disk_format": "qcow2", "container_format": "bare"})
    liar = r.json()["id"]
    r = requests.put(f"{base}/{liar}/file", headers={**h, "Content-Type": "application/octet-stream"}, data=data)
    assert r.status_code == 415
    assert requests.get(f"{base}/{liar}", headers=h).json()["status"] == "queued"

    # Protected images stay.
    r = requests.patch(f"{base}/{iid}", headers={**h, "Content-Type": "application/openstack-images-v2.1-json-patch"},
                       json=[{"op": "replace", "path": "/protected", "value": True}])
    assert r.status_code == 200 and r.json()["protected"] is True
    assert requests.delete(f"{base}/{iid}", headers=h).status_code == 403
    assert cloud.openstack_json("image", "list")


def test_quota_and_glance_direct_import(tmp_path):
    cloud = Cloud(tmp_path / "data").start("--image-quota-bytes", "1000000")
    try:
        h = {"X-Auth-Token": token(cloud)}
        base = f"{cloud.url}/image/v2/images"
        imports = requests.get(f"{cloud.url}/image/v2/info/import", headers=h).json()
        assert imports["import-methods"]["value"] == ["glance-direct"]

        r = requests.post(base, headers=h, json={"name": "big", "disk_format": "raw", "container_format": "bare"})
        big = r.json()["id"]
        r = requests.put(f"{base}/{big}/file", headers={**h, "Content-Type": "application/octet-stream"},
                         data=os.urandom(2_000_000))
        assert r.status_code == 413 and "quota" in r.text
        assert requests.get(f"{base}/{big}", headers=h).json()["status"] == "queued"

        data = os.urandom(500_000)
        r = requests.post(base, headers=h, json={"name": "imp", "disk_format": "raw", "container_format": "bare"})
        imp = r.json()["id"]
        r = requests.put(f"{base}/{imp}/stage", headers={**h, "Content-Type": "application/octet-stream"}, data=data)
        assert r.status_code == 204
        assert requests.get(f"{base}/{imp}", headers=h).json()["status"] == "uploading"
        r = requests.post(f"{base}/{imp}/import", headers=h, json={"method": {"name": "glance-direct"}})
        assert r.status_code == 202
        assert requests.get(f"{base}/{imp}", headers=h).json()["status"] == "active"
        assert requests.get(f"{base}/{imp}/file", headers=h).content == data
    finally:
        cloud.stop()


def test_an_upload_cut_by_a_crash_is_undone_at_restart(cloud):
    tok = token(cloud)
    h = {"X-Auth-Token": tok}
    base = f"{cloud.url}/image/v2/images"
    iid = requests.post(base, headers=h, json={"name": "r", "disk_format": "raw", "container_format": "bare"}).json()["id"]
    with socket.create_connection(("127.0.0.1", cloud.port)) as s:
        s.sendall((f"PUT /image/v2/images/{iid}/file HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {tok}\r\n"
                   f"Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n").encode())
        s.sendall(b"\0" * 500_000)
        time.sleep(1)
        assert requests.get(f"{base}/{iid}", headers=h).json()["status"] == "saving"
        cloud.proc.kill()
        cloud.proc.wait()
    assert os.listdir(cloud.data_dir / "images" / "tmp")
    cloud.start()
    h = {"X-Auth-Token": token(cloud)}
    assert requests.get(f"{base}/{iid}", headers=h).json()["status"] == "queued"
    assert os.listdir(cloud.data_dir / "images" / "tmp") == []
