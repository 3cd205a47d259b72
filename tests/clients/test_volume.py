"""Block Storage through the real clients, as users start them: python-
openstackclient, python-cinderclient and openstacksdk from PyPI, against a
freshly started `oxistack serve` (its file backend in the data dir)."""

import json
import os
import signal
import subprocess
import sys
import time

import requests


def wait_for(cloud, name_or_id, status, rc=None, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        shown = cloud.openstack_json("volume", "show", name_or_id, rc=rc)
        if shown["status"] == status:
            return shown
        assert shown["status"] in ("creating", "extending", "deleting"), shown
        time.sleep(0.2)
    raise AssertionError(f"volume {name_or_id} never became {status}")


def wait_for_any(cloud, name_or_id, statuses, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        shown = cloud.openstack_json("volume", "show", name_or_id)
        if shown["status"] in statuses:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"volume {name_or_id} never became one of {statuses}")


def member_of(cloud, project, user):
    """A new project with a new member; the member's RC file."""
    cloud.openstack("project", "create", project)
    cloud.openstack("user", "create", "--password", f"pw-{user}", user)
    cloud.openstack("role", "add", "--project", project, "--user", user, "member")
    return cloud.user_rc(user, project, f"pw-{user}")


def cinder(cloud, *args, rc=None, check=True):
    res = subprocess.run(["cinder", *args], capture_output=True, text=True, env=cloud.rc_env(rc), timeout=120)
    if check and res.returncode != 0:
        raise AssertionError(f"cinder {' '.join(args)} failed ({res.returncode}):\n{res.stderr}")
    return res


def test_openstackclient_makes_changes_grows_and_deletes_volumes(cloud):
    created = cloud.openstack_json("volume", "create", "--size", "1", "--property", "role=data", "v1")
    assert created["status"] == "creating" and created["size"] == 1 and created["type"] == "__DEFAULT__", created
    shown = wait_for(cloud, "v1", "available")
    assert shown["properties"] == {"role": "data"} and shown["bootable"] is False, shown
    # The volume's data is a file of its size in the data dir, the server's alone.
    data = cloud.data_dir / "volumes" / f"volume-{shown['id']}"
    assert data.stat().st_size == 1 << 30 and data.stat().st_mode & 0o777 == 0o600
    listed = cloud.openstack_json("volume", "list")
    assert [(v["Name"], v["Status"], v["Size"]) for v in listed] == [("v1", "available", 1)], listed

    cloud.openstack("volume", "set", "--name", "v2", "--description", "d", "--property", "tier=gold", "--size", "3",
                    "--bootable", "v1")
    shown = wait_for(cloud, "v2", "available")
    assert (shown["size"], shown["description"], shown["bootable"]) == (3, "d", True), shown
    assert shown["properties"] == {"role": "data", "tier": "gold"}
    assert data.stat().st_size == 3 << 30
    res = cloud.openstack("volume", "set", "--size", "2", "v2", check=False)
    assert res.returncode != 0, "a volume does not shrink"

    # Types are the admin's; a private one is given to projects.
    cloud.openstack("volume", "type", "create", "--private", "--property", "tier=fast", "fast")
    fast = cloud.openstack_json("volume", "create", "--size", "1", "--type", "fast", "f1")
    assert fast["type"] == "fast"
    types = {t["Name"] for t in cloud.openstack_json("volume", "type", "list")}
    assert types == {"__DEFAULT__", "fast"}, types
    wait_for(cloud, "f1", "available")
    cloud.openstack("volume", "set", "--type", "fast", "--retype-policy", "never", "v2")
    assert cloud.openstack_json("volume", "show", "v2")["type"] == "fast"

    cloud.openstack("volume", "delete", "v2", "f1")
    deadline = time.time() + 60
    while cloud.openstack_json("volume", "list") and time.time() < deadline:
        time.sleep(0.2)
    assert cloud.openstack_json("volume", "list") == []
    assert not data.exists()
    res = cloud.openstack("volume", "show", "v2", check=False)
    assert res.returncode != 0 and "No Volume found for v2" in res.stderr, res.stderr


def test_cinderclient_speaks_the_newest_microversion(cloud):
    out = cinder(cloud, "create", "1", "--name", "c1").stdout
    assert "c1" in out, out
    deadline = time.time() + 60
    while "available" not in cinder(cloud, "show", "c1").stdout and time.time() < deadline:
        time.sleep(0.2)
    listed = cinder(cloud, "list").stdout
    assert "c1" in listed and "available" in listed and "__DEFAULT__" in listed, listed
    cinder(cloud, "extend", "c1", "2")
    deadline = time.time() + 60
    while "| size                           | 2" not in cinder(cloud, "show", "c1").stdout and time.time() < deadline:
        time.sleep(0.2)
    assert "| size                           | 2" in cinder(cloud, "show", "c1").stdout
    assert "__DEFAULT__" in cinder(cloud, "type-list").stdout
    quota = cinder(cloud, "quota-show", cloud.rc_env()["OS_PROJECT_NAME"], check=False)
    usage = cinder(cloud, "quota-usage", cloud.openstack_json("project", "show", "admin")["id"]).stdout
    assert "volumes" in usage and "gigabytes" in usage, (quota.stderr, usage)
    cinder(cloud, "delete", "c1")
    res = cinder(cloud, "show", "no-such-volume", check=False)
    assert res.returncode != 0 and "No volume with a name or ID of 'no-such-volume' exists." in res.stderr, res.stderr


def test_openstacksdk_waits_for_its_volumes(cloud):
    script = """
import time
import openstack
conn = openstack.connect()
v = conn.block_storage.create_volume(size=1, name="sdk1")
v = conn.block_storage.wait_for_status(v, status="available", wait=60)
conn.block_storage.extend_volume(v, 2)
# The SDK's wait starts from the object it holds, which an extend does not
# refresh: read the volume again until it has grown.
for _ in range(300):
    v = conn.block_storage.get_volume(v.id)
    if v.size == 2 and v.status == "available":
        break
    time.sleep(0.2)
assert v.size == 2 and v.status == "available", v
assert [x.name for x in conn.block_storage.volumes()] == ["sdk1"]
conn.block_storage.delete_volume(v)
conn.block_storage.wait_for_delete(v, wait=60)
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=cloud.rc_env(),
                         timeout=180)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_quotas_refuse_with_413_and_other_projects_see_nothing(cloud):
    c = cloud.openstack
    u1, u2 = member_of(cloud, "p1", "u1"), member_of(cloud, "p2", "u2")
    c("quota", "set", "--volumes", "1", "--gigabytes", "5", "p1")
    mine = cloud.openstack_json("volume", "create", "--size", "1", "mine", rc=u1)
    res = c("volume", "create", "--size", "1", "second", rc=u1, check=False)
    assert res.returncode != 0 and "413" in res.stderr and "VolumeLimitExceeded" in res.stderr, res.stderr
    res = c("volume", "create", "--size", "9", "big", rc=u2, check=False)
    assert res.returncode == 0, "p2's quota is its own"
    wait_for(cloud, "mine", "available", rc=u1)
    res = c("volume", "set", "--size", "6", "mine", rc=u1, check=False)
    assert res.returncode != 0 and "VolumeSizeExceedsAvailableQuota" in res.stderr, res.stderr
    # u2 neither sees nor touches u1's volume.
    assert "mine" not in c("volume", "list", rc=u2).stdout
    res = c("volume", "show", mine["id"], rc=u2, check=False)
    assert res.returncode != 0 and f"No Volume found for {mine['id']}" in res.stderr, res.stderr
    res = c("volume", "delete", mine["id"], rc=u2, check=False)
    assert res.returncode != 0
    assert cloud.openstack_json("volume", "show", mine["id"], rc=u1)["status"] == "available"
    # A member changes no types and no quotas.
    res = c("volume", "type", "create", "t1", rc=u1, check=False)
    assert res.returncode != 0 and "volume_extension:type_create" in res.stderr, res.stderr
    res = c("quota", "set", "--volumes", "50", "p1", rc=u1, check=False)
    assert res.returncode != 0


def test_the_default_quota_class_sets_every_projects_defaults(cloud):
    c = cloud.openstack
    u1 = member_of(cloud, "p1", "u1")
    # python-openstackclient sets class `default`, which is then every
    # project's defaults; python-cinderclient reads the class too.
    c("quota", "set", "--class", "--volumes", "1", "--snapshots", "7", "default")
    shown = {r["Resource"]: r["Limit"] for r in cloud.openstack_json("quota", "show", "--default", "--volume", "p1")}
    assert (shown["volumes"], shown["snapshots"], shown["gigabytes"]) == (1, 7, 1000), shown
    out = cinder(cloud, "quota-class-show", "default").stdout
    assert any([c.strip() for c in row.split("|")[1:3]] == ["volumes", "1"] for row in out.splitlines()), out
    # A project without limits of its own now has one volume.
    cloud.openstack_json("volume", "create", "--size", "1", "first", rc=u1)
    res = c("volume", "create", "--size", "1", "second", rc=u1, check=False)
    assert res.returncode != 0 and "413" in res.stderr and "VolumeLimitExceeded" in res.stderr, res.stderr
    # Its own limit wins over the class; a member changes no class.
    c("quota", "set", "--volumes", "3", "p1")
    cloud.openstack_json("volume", "create", "--size", "1", "second", rc=u1)
    res = c("quota", "set", "--class", "--volumes", "50", "default", rc=u1, check=False)
    assert res.returncode != 0 and "403" in res.stderr, res.stderr
    token = cloud.openstack_json("token", "issue", rc=u1)["id"]
    r = requests.get(f"{cloud.url}/volume/v3/os-quota-class-sets/default", headers={"X-Auth-Token": token},
                     timeout=10)
    assert r.status_code == 403, r.text


def test_volume_transfers_through_the_clients(cloud):
    c = cloud.openstack
    u1 = member_of(cloud, "p1", "u1")
    v1 = cloud.openstack_json("volume", "create", "--size", "1", "v1")
    wait_for(cloud, "v1", "available")
    snap = cloud.openstack_json("volume", "snapshot", "create", "--volume", "v1", "s1")
    wait_snapshot(cloud, "s1", "available")

    # python-openstackclient offers it; the key is shown once.
    offer = cloud.openstack_json("volume", "transfer", "request", "create", "--name", "t1", "v1")
    assert offer["volume_id"] == v1["id"] and len(offer["auth_key"]) == 16, offer
    assert wait_for(cloud, "v1", "awaiting-transfer")["status"] == "awaiting-transfer"
    listed = cloud.openstack_json("volume", "transfer", "request", "list")
    assert [(t["ID"], t["Name"]) for t in listed] == [(offer["id"], "t1")], listed
    assert "auth_key" not in cloud.openstack_json("volume", "transfer", "request", "show", offer["id"])
    res = c("volume", "delete", "v1", check=False)
    assert res.returncode != 0 and "400" in res.stderr, res.stderr
    # The other project sees no offer; a wrong key takes nothing; a quota
    # too small for the volume refuses it.
    assert cloud.openstack_json("volume", "transfer", "request", "list", rc=u1) == []
    res = c("volume", "transfer", "request", "accept", "--auth-key", "x" * 16, offer["id"], rc=u1, check=False)
    assert res.returncode != 0 and "Invalid auth key" in res.stderr, res.stderr
    c("quota", "set", "--volumes", "0", "p1")
    res = c("volume", "transfer", "request", "accept", "--auth-key", offer["auth_key"], offer["id"], rc=u1,
            check=False)
    assert res.returncode != 0 and "413" in res.stderr, res.stderr
    c("quota", "set", "--volumes", "5", "p1")
    # Accepted with the key: the volume and its snapshot are p1's.
    accepted = cloud.openstack_json("volume", "transfer", "request", "accept", "--auth-key", offer["auth_key"],
                                    offer["id"], rc=u1)
    assert accepted["volume_id"] == v1["id"], accepted
    mine = cloud.openstack_json("volume", "show", v1["id"], rc=u1)
    p1 = cloud.openstack_json("project", "show", "p1")["id"]
    assert mine["status"] == "available" and mine["os-vol-tenant-attr:tenant_id"] == p1, mine
    assert [s["ID"] for s in cloud.openstack_json("volume", "snapshot", "list", rc=u1)] == [snap["id"]]
    assert "v1" not in c("volume", "list").stdout
    assert cloud.openstack_json("volume", "transfer", "request", "list") == []
    res = c("volume", "transfer", "request", "accept", "--auth-key", offer["auth_key"], offer["id"], rc=u1,
            check=False)
    assert res.returncode != 0 and "404" in res.stderr, res.stderr

    # python-cinderclient at 3.57 (/volume-transfers): offer, show, withdraw.
    cloud.openstack_json("volume", "create", "--size", "1", "v2")
    wait_for(cloud, "v2", "available")
    out = cinder(cloud, "--os-volume-api-version", "3.57", "transfer-create", "--name", "t2", "v2").stdout
    assert "auth_key" in out and "t2" in out, out
    t2 = next(r.split("|")[2].strip() for r in out.splitlines() if r.startswith("| id "))
    shown = cinder(cloud, "--os-volume-api-version", "3.57", "transfer-show", t2).stdout
    assert "source_project_id" in shown and "accepted" in shown and "auth_key" not in shown, shown
    cinder(cloud, "--os-volume-api-version", "3.57", "transfer-delete", t2)
    wait_for(cloud, "v2", "available")


def test_versions_and_errors_are_cinders(cloud):
    r = requests.get(f"{cloud.url}/volume/", timeout=10)
    assert r.status_code == 300 and r.headers["OpenStack-API-Version"] == "volume 3.0"
    version = r.json()["versions"][0]
    assert (version["version"], version["min_version"]) == ("3.71", "3.0")
    token = cloud.openstack_json("token", "issue")["id"]
    h = {"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.72"}
    r = requests.get(f"{cloud.url}/volume/v3/volumes", headers=h, timeout=10)
    assert r.status_code == 406 and "computeFault" in r.json(), r.text
    h["OpenStack-API-Version"] = "volume 3.71"
    r = requests.post(f"{cloud.url}/volume/v3/volumes", headers=h, data="{not json", timeout=10)
    assert r.status_code == 400 and r.json() == {"badRequest": {"code": 400, "message": "Malformed request body"}}
    r = requests.post(f"{cloud.url}/volume/v3/volumes", headers=h, json={"volume": {"size": 0}}, timeout=10)
    assert r.status_code == 400 and "Invalid volume size" in r.json()["badRequest"]["message"], r.text
    r = requests.post(f"{cloud.url}/volume/v3/volumes", headers=h, json={"volume": {"size": 1, "bogus": 1}},
                      timeout=10)
    assert r.status_code == 400 and "'bogus' was unexpected" in r.text, r.text
    r = requests.get(f"{cloud.url}/volume/v3/volumes/{'0' * 32}", headers=h, timeout=10)
    assert r.status_code == 404 and r.json()["itemNotFound"]["message"] == f"Volume {'0' * 32} could not be found."
    assert r.headers["OpenStack-API-Version"] == "volume 3.71"
    # The server keeps serving after all of that.
    assert requests.get(f"{cloud.url}/volume/v3/volumes", headers=h, timeout=10).status_code == 200
    catalog = json.loads(cloud.openstack("catalog", "list", "-f", "json").stdout)
    assert {"block-storage", "volumev3"} <= {c["Type"] for c in catalog}, catalog


def wait_snapshot(cloud, name_or_id, status, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        shown = cloud.openstack_json("volume", "snapshot", "show", name_or_id)
        if shown["status"] == status:
            return shown
        assert shown["status"] in ("creating", "deleting"), shown
        time.sleep(0.2)
    raise AssertionError(f"snapshot {name_or_id} never became {status}")


def wait_gone(cloud, *what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cloud.openstack(*what, check=False).returncode != 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} is still there")


def test_snapshots_and_copies_through_the_clients(cloud):
    v1 = cloud.openstack_json("volume", "create", "--size", "1", "v1")
    wait_for(cloud, "v1", "available")
    data = cloud.data_dir / "volumes" / f"volume-{v1['id']}"
    with open(data, "r+b") as f:
        f.seek(1 << 20)
        f.write(b"kept by the snapshot")
    snap = cloud.openstack_json("volume", "snapshot", "create", "--volume", "v1", "--description", "daily", "s1")
    assert snap["status"] == "creating" and snap["size"] == 1 and snap["volume_id"] == v1["id"], snap
    shown = wait_snapshot(cloud, "s1", "available")
    assert (shown["description"], shown["properties"]) == ("daily", {}), shown
    with open(data, "r+b") as f:
        f.seek(1 << 20)
        f.write(b"written after it.....")
    listed = cloud.openstack_json("volume", "snapshot", "list")
    assert [(s["Name"], s["Status"], s["Size"]) for s in listed] == [("s1", "available", 1)], listed
    cloud.openstack("volume", "snapshot", "set", "--name", "s2", "--property", "k=v", "s1")
    assert cloud.openstack_json("volume", "snapshot", "show", "s2")["properties"] == {"k": "v"}

    # New volumes from the snapshot and from the volume: each holds what its
    # source held, the type and size of the source unless asked otherwise.
    from_snap = cloud.openstack_json("volume", "create", "--snapshot", "s2", "--size", "1", "fs")
    clone = cloud.openstack_json("volume", "create", "--source", "v1", "--size", "2", "cl")
    assert from_snap["snapshot_id"] == snap["id"] and clone["source_volid"] == v1["id"], (from_snap, clone)
    wait_for(cloud, "fs", "available")
    assert wait_for(cloud, "cl", "available")["size"] == 2

    def held(volume):
        with open(cloud.data_dir / "volumes" / f"volume-{volume['id']}", "rb") as f:
            f.seek(1 << 20)
            return f.read(20)
    assert held(from_snap) == b"kept by the snapshot"
    assert held(clone) == b"written after it...."
    res = cloud.openstack("volume", "create", "--snapshot", "s2", "--size", "1", "--source", "v1", "both",
                          check=False)
    assert res.returncode != 0

    # python-cinderclient lists them too; a volume with a snapshot stays.
    assert "s2" in cinder(cloud, "snapshot-list").stdout
    res = cloud.openstack("volume", "delete", "v1", check=False)
    assert res.returncode != 0 and "dependent snapshots" in res.stderr, res.stderr
    cloud.openstack("volume", "snapshot", "delete", "s2")
    wait_gone(cloud, "volume", "snapshot", "show", "s2")
    assert not (cloud.data_dir / "volumes" / f"snapshot-{snap['id']}").exists()
    cloud.openstack("volume", "delete", "v1", "fs", "cl")
    wait_gone(cloud, "volume", "show", "cl")


def test_openstacksdk_snapshots_and_cascades(cloud):
    script = """
import openstack
conn = openstack.connect()
v = conn.block_storage.create_volume(size=1, name="sdk1")
v = conn.block_storage.wait_for_status(v, status="available", wait=60)
s = conn.block_storage.create_snapshot(volume_id=v.id, name="sdk-snap")
s = conn.block_storage.wait_for_status(s, status="available", wait=60)
assert [x.name for x in conn.block_storage.snapshots()] == ["sdk-snap"]
conn.block_storage.delete_volume(v, cascade=True)
conn.block_storage.wait_for_delete(v, wait=60)
assert list(conn.block_storage.snapshots()) == []
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=cloud.rc_env(),
                         timeout=180)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_a_volume_from_an_image_holds_the_image(cloud, tmp_path):
    raw = tmp_path / "disk.raw"
    with open(raw, "wb") as f:
        f.write(os.urandom(3 << 20))
    image = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(image)], check=True)
    img = cloud.openstack_json("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                               "--file", str(image), "--property", "os_distro=test", "img1")
    created = cloud.openstack_json("volume", "create", "--image", "img1", "--size", "1", "vi")
    assert created["status"] == "creating", created
    shown = wait_for(cloud, "vi", "available")
    assert shown["bootable"] is True, shown
    meta = shown["volume_image_metadata"]
    assert (meta["image_id"], meta["image_name"], meta["disk_format"], meta["os_distro"]) == \
        (img["id"], "img1", "qcow2", "test"), meta
    data = cloud.data_dir / "volumes" / f"volume-{shown['id']}"
    assert data.stat().st_size == 1 << 30
    with open(data, "rb") as f:
        assert f.read(3 << 20) == raw.read_bytes(), "the volume holds the image's data, converted to raw"
    # python-cinderclient takes the image too, its size from the image when
    # none is given.
    out = cinder(cloud, "create", "--image", "img1", "--name", "vc", "1").stdout
    assert "vc" in out, out
    wait_for(cloud, "vc", "available")
    # No volume is made from an image the caller cannot see or that is
    # smaller than it.
    c = cloud.openstack
    u1 = member_of(cloud, "p1", "u1")
    c("image", "set", "--private", "img1")
    token = cloud.openstack_json("token", "issue", rc=u1)["id"]
    r = requests.post(f"{cloud.url}/volume/v3/volumes", headers={"X-Auth-Token": token},
                      json={"volume": {"size": 1, "imageRef": img["id"]}}, timeout=10)
    assert r.status_code == 400 and "unable to access requested image" in r.text, r.text
    c("image", "set", "--min-disk", "5", "img1")
    r = requests.post(f"{cloud.url}/volume/v3/volumes",
                      headers={"X-Auth-Token": cloud.openstack_json("token", "issue")["id"]},
                      json={"volume": {"size": 1, "imageRef": img["id"]}}, timeout=10)
    assert r.status_code == 400 and "cannot be smaller than the image size 5GB" in r.text, r.text


def test_volumes_attach_to_servers_through_the_clients(cloud, tmp_path):
    from test_compute import image_id, nova
    from test_nova_cli import NATIVE, normalise, run
    image = image_id(cloud, tmp_path)
    for name in ("s1", "s2"):
        cloud.openstack_json("server", "create", "--flavor", "m1.tiny", "--image", image, "--nic", "none", "--wait",
                             name)
    vol = cloud.openstack_json("volume", "create", "--size", "1", "v1")
    wait_for(cloud, "v1", "available")

    # python-openstackclient: server add volume, then the volume is in use
    # by that server, and neither a second server nor a delete takes it.
    cloud.openstack("server", "add", "volume", "--device", "/dev/vdb", "s1", "v1")
    shown = wait_for(cloud, "v1", "in-use")
    s1 = cloud.openstack_json("server", "show", "s1")
    assert [(a["server_id"], a["device"]) for a in shown["attachments"]] == [(s1["id"], "/dev/vdb")], shown
    listed = cloud.openstack_json("server", "volume", "list", "s1")
    assert [(v["Volume ID"], v["Device"]) for v in listed] == [(vol["id"], "/dev/vdb")], listed
    res = cloud.openstack("server", "add", "volume", "s2", "v1", check=False)
    assert res.returncode != 0 and "400" in res.stderr, res.stderr
    res = cloud.openstack("volume", "delete", "v1", check=False)
    assert res.returncode != 0 and "400" in res.stderr, res.stderr
    cloud.openstack("server", "remove", "volume", "s1", "v1")
    wait_for(cloud, "v1", "available")

    # python-novaclient and the native nova: attach, list word for word, detach.
    out = nova(cloud, "volume-attach", "s2", vol["id"]).stdout
    assert vol["id"] in out and "/dev/vdb" in out, out
    wait_for(cloud, "v1", "in-use")
    python = nova(cloud, "volume-attachments", "s2").stdout
    native = run(cloud, NATIVE, "volume-attachments", "s2")
    assert native.returncode == 0, native.stderr
    assert normalise(native.stdout) == normalise(python), (native.stdout, python)
    assert vol["id"] in python and "/dev/vdb" in python, python
    res = run(cloud, NATIVE, "volume-detach", "s2", vol["id"])
    assert res.returncode == 0 and res.stdout == "", (res.stdout, res.stderr)
    wait_for(cloud, "v1", "available")
    res = run(cloud, NATIVE, "volume-attach", "s2", vol["id"], "/dev/vdc")
    assert res.returncode == 0 and "/dev/vdc" in res.stdout, res.stderr
    wait_for(cloud, "v1", "in-use")

    # A server's delete lets its volumes go.
    cloud.openstack("server", "delete", "--wait", "s2")
    wait_for(cloud, "v1", "available")
    assert cloud.openstack_json("volume", "show", "v1")["attachments"] == []


def test_backups_through_the_clients(cloud):
    v1 = cloud.openstack_json("volume", "create", "--size", "1", "v1")
    wait_for(cloud, "v1", "available")
    data = cloud.data_dir / "volumes" / f"volume-{v1['id']}"
    with open(data, "r+b") as f:
        f.seek(4096)
        f.write(b"before the backup")
    backup = cloud.openstack_json("volume", "backup", "create", "--name", "b1", "v1")
    deadline = time.time() + 60
    while cloud.openstack_json("volume", "backup", "show", "b1")["status"] != "available":
        assert time.time() < deadline, "the backup never became available"
        time.sleep(0.2)
    wait_for(cloud, "v1", "available")
    listed = cloud.openstack_json("volume", "backup", "list")
    assert [(b["Name"], b["Status"], b["Size"]) for b in listed] == [("b1", "available", 1)], listed
    with open(data, "r+b") as f:
        f.seek(4096)
        f.write(b"after the backup!")
    # Restored over the volume it came from, the old data is back.
    cloud.openstack("volume", "backup", "restore", "--force", "b1", "v1")
    deadline = time.time() + 60
    while True:
        status = cloud.openstack_json("volume", "show", "v1")["status"]
        if status == "available":
            break
        assert status == "restoring-backup" and time.time() < deadline, status
        time.sleep(0.2)
    with open(data, "rb") as f:
        f.seek(4096)
        assert f.read(17) == b"before the backup"
    # python-cinderclient lists and restores it into a new volume.
    assert "b1" in cinder(cloud, "backup-list").stdout
    out = cinder(cloud, "backup-restore", "--name", "from-b1", backup["id"]).stdout
    assert "from-b1" in out, out
    deadline = time.time() + 60
    while cloud.openstack_json("volume", "show", "from-b1")["status"] != "available":
        assert time.time() < deadline
        time.sleep(0.2)
    cloud.openstack("volume", "backup", "delete", "b1")
    wait_gone(cloud, "volume", "backup", "show", "b1")


def test_a_volume_becomes_an_image(cloud, tmp_path):
    v1 = cloud.openstack_json("volume", "create", "--size", "1", "v1")
    wait_for(cloud, "v1", "available")
    data = cloud.data_dir / "volumes" / f"volume-{v1['id']}"
    payload = os.urandom(1 << 20)
    with open(data, "r+b") as f:
        f.write(payload)
    # python-openstackclient's `image create --volume` is Cinder's
    # os-volume_upload_image; the image is the caller's and holds the data.
    cloud.openstack("image", "create", "--volume", "v1", "--disk-format", "qcow2", "from-v1")
    deadline = time.time() + 120
    while True:
        shown = cloud.openstack_json("image", "show", "from-v1")
        if shown["status"] == "active":
            break
        assert shown["status"] in ("queued", "saving") and time.time() < deadline, shown
        time.sleep(0.3)
    assert shown["disk_format"] == "qcow2" and shown["min_disk"] == 1, shown
    wait_for(cloud, "v1", "available")
    cloud.openstack("image", "save", "--file", str(tmp_path / "img.qcow2"), "from-v1")
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(tmp_path / "img.qcow2"),
                    str(tmp_path / "img.raw")], check=True)
    with open(tmp_path / "img.raw", "rb") as f:
        assert f.read(1 << 20) == payload
    assert (tmp_path / "img.raw").stat().st_size == 1 << 30
    # And the image boots a volume of its own again.
    cloud.openstack("volume", "create", "--image", "from-v1", "--size", "1", "v2")
    v2 = wait_for(cloud, "v2", "available")
    with open(cloud.data_dir / "volumes" / f"volume-{v2['id']}", "rb") as f:
        assert f.read(1 << 20) == payload
    assert not list((cloud.data_dir / "volumes").glob("export-*")), "nothing of the upload is left behind"


def test_a_kill_while_volumes_are_made_from_an_image_leaves_none_half_made(cloud, tmp_path):
    """`kill -9` of the server while a volume is written from an image, on
    its own and for a server booted from a volume: after the restart the
    volume is in error (as cinder-volume's start leaves it), no partial
    file is left, and both it and the server are deleted as usual."""
    from test_image import token
    raw = tmp_path / "big.raw"
    with open(raw, "wb") as f:
        for _ in range(96):
            f.write(os.urandom(1 << 20))
    image = tmp_path / "big.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(image)], check=True)
    img = cloud.openstack_json("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                               "--file", str(image), "big")["id"]
    volumes = cloud.data_dir / "volumes"

    def kill_while_downloading(start):
        """Starts what makes a volume, and kills the server once the volume
        is being written; the volume's id (None when it was done first)."""
        headers = {"X-Auth-Token": token(cloud)}
        start(headers)
        deadline = time.time() + 60
        while time.time() < deadline:
            listed = requests.get(f"{cloud.url}/volume/v3/volumes/detail", headers=headers, timeout=10).json()
            for v in listed["volumes"]:
                if v["status"] == "downloading":
                    cloud.proc.send_signal(signal.SIGKILL)
                    cloud.proc.wait(timeout=30)
                    return v["id"]
                if v["status"] == "available" and v["volume_image_metadata"]["image_id"] == img:
                    return None
            time.sleep(0.005)
        raise AssertionError("no volume was made from the image")

    def volume(headers):
        r = requests.post(f"{cloud.url}/volume/v3/volumes", headers=headers,
                          json={"volume": {"size": 1, "imageRef": img, "name": "cut"}}, timeout=10)
        assert r.status_code == 202, r.text

    def server(headers):
        r = requests.post(f"{cloud.url}/compute/v2.1/servers", headers=headers, json={"server": {
            "name": "cut-bfv", "flavorRef": "1", "networks": "none", "block_device_mapping_v2": [{
                "uuid": img, "source_type": "image", "destination_type": "volume", "boot_index": 0,
                "volume_size": 1, "delete_on_termination": False}]}}, timeout=10)
        assert r.status_code == 202, r.text

    for start in (volume, server):
        for _attempt in range(3):
            cut = kill_while_downloading(start)
            cloud.start()
            if cut:
                break
            # Done before the kill: nothing was cut short; again.
            for s in cloud.openstack_json("server", "list"):
                cloud.openstack("server", "delete", "--wait", s["ID"])
            for v in cloud.openstack_json("volume", "list"):
                wait_for_any(cloud, v["ID"], ("available", "in-use", "error"))
                cloud.openstack("volume", "delete", "--force", v["ID"])
        assert cut, "every volume was written before the kill could cut it short"
        shown = cloud.openstack_json("volume", "show", cut)
        assert shown["status"] == "error", shown
        assert not list(volumes.glob("*.part")), list(volumes.iterdir())
        if start is server:
            s = cloud.openstack_json("server", "show", "cut-bfv")
            assert s["status"] == "ERROR", s
            assert cloud.openstack_json("server", "volume", "list", "cut-bfv") == []
            cloud.openstack("server", "delete", "--wait", "cut-bfv")
        cloud.openstack("volume", "delete", cut)
        wait_gone(cloud, "volume", "show", cut)
        assert not (volumes / f"volume-{cut}").exists()
    statuses = {v["Status"] for v in cloud.openstack_json("volume", "list")}
    assert statuses <= {"available"}, statuses
