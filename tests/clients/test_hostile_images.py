"""Images are untrusted input: a tenant with only `member` tries to make QEMU
read host files through crafted images (the class of OSSA-2023-002 /
CVE-2022-47951 and the older qcow2 backing-file reads), against a freshly
started `oxistack serve`. Each crafted file is refused where it enters (upload,
stage, import), and one that bypasses the Image service (written into the
store, as images stored before uploads were inspected) is refused at boot;
the whole attack (boot, createImage, download) finds no host data."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import requests

CORPUS = Path(__file__).resolve().parents[2] / "crates" / "format-inspector" / "corpus"

# The corpus files a tenant may try, with the disk_format it declares.
HOSTILE = [
    ("hostile-descriptor-relative.vmdk", "vmdk"),
    ("hostile-descriptor-absolute.vmdk", "vmdk"),
    ("hostile-multi-extent.vmdk", "vmdk"),
    ("hostile-flat-qemu.vmdk", "vmdk"),
    ("hostile-sparse-capacity0.vmdk", "vmdk"),
    ("hostile-sparse-parent.vmdk", "vmdk"),
    ("hostile-sparse-two-extents.vmdk", "vmdk"),
    ("hostile-backing-file.qcow2", "qcow2"),
    ("hostile-backing-json.qcow2", "qcow2"),
    ("hostile-backing-protocol.qcow2", "qcow2"),
    ("hostile-data-file.qcow2", "qcow2"),
    ("hostile-truncated.qcow2", "qcow2"),
    ("hostile-header-length.qcow2", "qcow2"),
    ("hostile-differencing.vhd", "vhd"),
    ("good.qcow2", "raw"),
    ("hostile-descriptor-relative.vmdk", "raw"),
]


class Tenant:
    """A user with only the `member` role in a project of its own."""

    def __init__(self, cloud, name, role="member"):
        cloud.openstack("project", "create", name)
        cloud.openstack("user", "create", "--password", f"pw-{name}", name)
        cloud.openstack("role", "add", "--project", name, "--user", name, role)
        self.rc = cloud.user_rc(name, name, f"pw-{name}")
        self.token = cloud.openstack_json("token", "issue", rc=self.rc)["id"]
        self.h = {"X-Auth-Token": self.token}
        self.images = f"{cloud.url}/image/v2/images"
        self.compute = f"{cloud.url}/compute/v2.1"
        self.cloud = cloud

    def create_image(self, name, disk_format):
        r = requests.post(self.images, headers=self.h,
                          json={"name": name, "disk_format": disk_format, "container_format": "bare"})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def put(self, image_id, data, what="file"):
        return requests.put(f"{self.images}/{image_id}/{what}",
                            headers={**self.h, "Content-Type": "application/octet-stream"}, data=data)

    def boot(self, name, image_id, flavor="1"):
        r = requests.post(f"{self.compute}/servers", headers={**self.h, "OpenStack-API-Version": "compute 2.37"},
                          json={"server": {"name": name, "imageRef": image_id, "flavorRef": flavor,
                                           "networks": "none"}})
        assert r.status_code == 202, r.text
        return r.json()["server"]["id"]

    def server(self, server_id):
        return requests.get(f"{self.compute}/servers/{server_id}", headers=self.h).json()["server"]

    def wait(self, server_id, want, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.server(server_id)
            if s["status"] == want:
                return s
            assert s["status"] in ("BUILD", want), s
            time.sleep(0.3)
        raise AssertionError(f"{server_id} is {s['status']}, not {want}")


def secrets_of(cloud):
    """Host data the attack is after: the admin's password and /etc/passwd."""
    rc = (cloud.data_dir / "admin-openrc.sh").read_text()
    password = next(line.split("=", 1)[1].strip().strip("'\"") for line in rc.splitlines()
                    if "OS_PASSWORD=" in line)
    return [password.encode(), b"root:x:0:0"]


def test_every_hostile_image_is_refused_where_it_enters(cloud, tmp_path):
    mallory = Tenant(cloud, "mallory")
    for file, disk_format in HOSTILE:
        data = (CORPUS / file).read_bytes()
        iid = mallory.create_image(file, disk_format)
        r = mallory.put(iid, data)
        assert r.status_code == 415, (file, r.status_code, r.text)
        for leaked in ["passwd", "admin-openrc", "qemu-img", str(cloud.data_dir)]:
            assert leaked not in r.text, (file, r.text)
        assert requests.get(f"{mallory.images}/{iid}", headers=mallory.h).json()["status"] == "queued"
        # Staged data is inspected the same way.
        r = mallory.put(iid, data, "stage")
        assert r.status_code == 415, (file, r.status_code, r.text)
        assert requests.get(f"{mallory.images}/{iid}", headers=mallory.h).json()["status"] == "queued"
    images = cloud.data_dir / "images"
    assert sorted(p.name for p in images.iterdir() if p.is_file()) == []
    assert os.listdir(images / "tmp") == [] and os.listdir(images / "staging") == []

    # The real client says no as well, and keeps nothing.
    res = cloud.openstack("image", "create", "--disk-format", "vmdk", "--container-format", "bare", "--file",
                          str(CORPUS / "hostile-descriptor-relative.vmdk"), "flat", rc=mallory.rc, check=False)
    assert res.returncode != 0 and "415" in res.stderr, res.stderr

    # Formats the inspector does not parse are not accepted at all.
    for fmt in ["vhdx", "ploop"]:
        r = requests.post(mallory.images, headers=mallory.h,
                          json={"name": "x", "disk_format": fmt, "container_format": "bare"})
        assert r.status_code == 400 and fmt in r.text, r.text

    # Good images of every inspected format are still accepted.
    for file, disk_format in [("good.qcow2", "qcow2"), ("good-sparse.vmdk", "vmdk"), ("good-stream.vmdk", "vmdk"),
                              ("good-dynamic.vhd", "vhd"), ("good.vdi", "vdi"), ("good.raw", "raw")]:
        iid = mallory.create_image(file, disk_format)
        assert mallory.put(iid, (CORPUS / file).read_bytes()).status_code == 204, file
        shown = requests.get(f"{mallory.images}/{iid}", headers=mallory.h).json()
        assert shown["status"] == "active" and shown["virtual_size"], shown


def refused_at_boot(cloud, tenant, hostile_file, disk_format, good_file):
    """Writes `hostile_file` over the stored data of a good image (as images
    stored before inspection, or a store changed behind the service's back),
    then tries the whole attack: boot, snapshot, download."""
    iid = tenant.create_image("innocent", disk_format)
    assert tenant.put(iid, (CORPUS / good_file).read_bytes()).status_code == 204
    stored = cloud.data_dir / "images" / iid
    shutil.copyfile(CORPUS / hostile_file, stored)

    sid = tenant.boot(f"attack-{hostile_file}", iid)
    server = tenant.wait(sid, "ERROR")
    fault = server["fault"]["message"]
    assert f"Image {iid} is refused" in fault and "(rule " in fault, fault
    for leaked in ["passwd", "admin-openrc", "qemu-img", str(cloud.data_dir), "/"]:
        assert leaked not in fault.replace(f"Image {iid}", ""), fault

    # No snapshot of an errored server, and nothing any image holds is host data.
    r = requests.post(f"{tenant.compute}/servers/{sid}/action", headers=tenant.h,
                      json={"createImage": {"name": "loot"}})
    assert r.status_code == 409, r.text
    secrets = secrets_of(cloud)
    for img in requests.get(tenant.images, headers=tenant.h).json()["images"]:
        data = requests.get(f"{tenant.images}/{img['id']}/file", headers=tenant.h).content
        assert not any(s in data for s in secrets), img["name"]
    return sid


def test_a_hostile_image_in_the_store_is_refused_at_boot(cloud):
    mallory = Tenant(cloud, "mallory")
    for hostile, fmt, good in [("hostile-descriptor-relative.vmdk", "vmdk", "good-sparse.vmdk"),
                               ("hostile-sparse-capacity0.vmdk", "vmdk", "good-sparse.vmdk"),
                               ("hostile-backing-file.qcow2", "qcow2", "good.qcow2"),
                               ("hostile-data-file.qcow2", "qcow2", "good.qcow2"),
                               ("good.qcow2", "raw", "good.raw")]:
        refused_at_boot(cloud, mallory, hostile, fmt, good)


def test_a_hostile_image_in_the_store_makes_no_volume(cloud):
    """Block Storage opens images too: a volume from an image passes the same
    gate on the stored file before any qemu-img reads it, and a refusal
    makes no volume and names nothing of the host."""
    mallory = Tenant(cloud, "mallory")
    volumes = f"{cloud.url}/volume/v3/volumes"
    for hostile, fmt, good in [("hostile-descriptor-relative.vmdk", "vmdk", "good-sparse.vmdk"),
                               ("hostile-backing-file.qcow2", "qcow2", "good.qcow2"),
                               ("hostile-data-file.qcow2", "qcow2", "good.qcow2"),
                               ("good.qcow2", "raw", "good.raw")]:
        iid = mallory.create_image("innocent", fmt)
        assert mallory.put(iid, (CORPUS / good).read_bytes()).status_code == 204
        shutil.copyfile(CORPUS / hostile, cloud.data_dir / "images" / iid)
        r = requests.post(volumes, headers=mallory.h, json={"volume": {"size": 1, "imageRef": iid}}, timeout=30)
        assert r.status_code == 400 and f"Image {iid} is refused" in r.text, (hostile, r.text)
        message = r.json()["badRequest"]["message"]
        for leaked in ["passwd", "admin-openrc", "qemu-img", str(cloud.data_dir), "/"]:
            assert leaked not in message.replace(f"Image {iid}", ""), message
    assert requests.get(volumes, headers=mallory.h, timeout=10).json()["volumes"] == []
    assert list((cloud.data_dir / "volumes").iterdir()) == []


def test_the_vmdk_descriptor_attack_is_real(tmp_path):
    """The attack's file really is one: `qemu-img` itself, told it is a VMDK,
    follows the extent to the host file. This is what the gate stops."""
    if shutil.which("qemu-img") is None:
        raise AssertionError("qemu-img is not installed (scripts/install-deps.sh installs it)")
    secret = tmp_path / "admin-openrc.sh"
    secret.write_text("export OS_PASSWORD=hunter2\n")
    images = tmp_path / "images"
    images.mkdir()
    shutil.copyfile(CORPUS / "hostile-descriptor-relative.vmdk", images / "attack")
    out = subprocess.run(["qemu-img", "info", "--output=json", "-f", "vmdk", str(images / "attack")],
                         capture_output=True, text=True)
    assert "admin-openrc.sh" in out.stdout, out
