"""Servers booted from volumes through the real clients, as users start
them: python-openstackclient (`--boot-from-volume`, `--volume`),
python-novaclient (`--block-device`), and openstacksdk's cloud layer (what
Ansible's `openstack.cloud.server` calls), against a freshly started
`oxistack serve` on the fake driver."""

import subprocess
import sys
import time

from test_compute import image_id, nova
from test_volume import wait_gone


def wait_for(cloud, volume, status, timeout=60):
    """The volume once it is `status` (a server's build or delete moves it
    through Block Storage's attach statuses on the way)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        shown = cloud.openstack_json("volume", "show", volume)
        if shown["status"] == status:
            return shown
        assert shown["status"] not in ("error", "error_deleting"), shown
        time.sleep(0.2)
    raise AssertionError(f"volume {volume} never became {status}")


def attachments(cloud, server):
    return {(v["Volume ID"], v["Device"]) for v in cloud.openstack_json("server", "volume", "list", server)}


def test_openstackclient_and_novaclient_boot_from_volumes(cloud, tmp_path):
    image = image_id(cloud, tmp_path)
    # openstackclient: a volume made from the image, then the server.
    s1 = cloud.openstack_json("server", "create", "--flavor", "m1.tiny", "--image", image, "--boot-from-volume", "1",
                              "--nic", "none", "--wait", "bfv1")
    assert s1["status"] == "ACTIVE", s1
    assert s1["image"] == "N/A (booted from volume)", s1
    root = cloud.openstack_json("server", "volume", "list", "bfv1")
    assert [v["Device"] for v in root] == ["/dev/vda"], root
    vol = wait_for(cloud, root[0]["Volume ID"], "in-use")
    assert vol["bootable"] is True and vol["size"] == 1, vol
    assert vol["volume_image_metadata"]["image_id"] == image, vol
    # Its root volume is not detached.
    res = cloud.openstack("server", "remove", "volume", "bfv1", vol["id"], check=False)
    assert res.returncode != 0 and "Cannot detach a root device volume" in res.stderr, res.stderr

    # openstackclient: an existing bootable volume as the root disk.
    cloud.openstack_json("volume", "create", "--image", image, "--size", "1", "--bootable", "boot1")
    boot1 = wait_for(cloud, "boot1", "available")
    s2 = cloud.openstack_json("server", "create", "--flavor", "m1.tiny", "--volume", "boot1", "--nic", "none",
                              "--wait", "bfv2")
    assert s2["status"] == "ACTIVE" and s2["image"] == "N/A (booted from volume)", s2
    assert attachments(cloud, "bfv2") == {(boot1["id"], "/dev/vda")}
    wait_for(cloud, "boot1", "in-use")
    # A volume that is not bootable is refused as a root disk.
    cloud.openstack_json("volume", "create", "--size", "1", "plain")
    wait_for(cloud, "plain", "available")
    res = cloud.openstack("server", "create", "--flavor", "m1.tiny", "--volume", "plain", "--nic", "none", "bfv-no",
                          check=False)
    assert res.returncode != 0 and "is not bootable" in res.stderr, res.stderr

    # python-novaclient: --block-device, the volume deleted with its server.
    out = nova(cloud, "boot", "--flavor", "m1.tiny", "--nic", "none", "--block-device",
               f"source=image,id={image},dest=volume,size=1,bootindex=0,shutdown=remove", "--poll", "bfv3").stdout
    assert "Finished" in out, out
    (root3, device), = attachments(cloud, "bfv3")
    assert device == "/dev/vda"
    wait_for(cloud, root3, "in-use")
    cloud.openstack("server", "delete", "--wait", "bfv3")
    wait_gone(cloud, "volume", "show", root3)

    # Deleted, the other servers leave their volumes (neither asked for
    # them to go), which boot a new server again.
    cloud.openstack("server", "delete", "--wait", "bfv1", "bfv2")
    wait_for(cloud, vol["id"], "available")
    wait_for(cloud, "boot1", "available")
    s4 = cloud.openstack_json("server", "create", "--flavor", "m1.tiny", "--volume", vol["id"], "--nic", "none",
                              "--wait", "bfv4")
    assert s4["status"] == "ACTIVE", s4
    assert attachments(cloud, "bfv4") == {(vol["id"], "/dev/vda")}


def test_openstacksdk_boots_from_a_volume_as_ansible_does(cloud, tmp_path):
    image = image_id(cloud, tmp_path)
    script = f"""
import openstack
conn = openstack.connect()
s = conn.create_server("sdk-bfv", image="{image}", flavor="m1.tiny", boot_from_volume=True, volume_size=1,
                       terminate_volume=True, network=[], auto_ip=False, wait=True, timeout=120)
assert s.status == "ACTIVE", s
attached = list(conn.compute.volume_attachments(s))
assert [a.device for a in attached] == ["/dev/vda"], attached
root = conn.block_storage.get_volume(attached[0].volume_id)
assert root.status == "in-use" and root.is_bootable, root
conn.delete_server(s.id, wait=True, timeout=120)
conn.block_storage.wait_for_delete(root, wait=60)
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=cloud.rc_env(),
                         timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_a_volume_backed_server_is_rebuilt_snapshotted_and_booted_again(cloud, tmp_path):
    image = image_id(cloud, tmp_path)
    cloud.openstack_json("server", "create", "--flavor", "m1.tiny", "--image", image, "--boot-from-volume", "1",
                         "--nic", "none", "--wait", "bfv")
    ((root, _),) = attachments(cloud, "bfv")
    # Rebuilt onto its volume: from 2.93, with the new image written over it.
    other = cloud.openstack_json("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                                 "--file", str(tmp_path / "cirros.qcow2"), "other")["id"]
    res = cloud.openstack("--os-compute-api-version", "2.92", "server", "rebuild", "--image", other, "bfv",
                          check=False)
    assert res.returncode != 0 and "volume-backed" in res.stderr, res.stderr
    cloud.openstack("--os-compute-api-version", "2.93", "server", "rebuild", "--reimage-boot-volume",
                    "--image", other, "--wait", "bfv")
    shown = wait_for(cloud, root, "in-use")
    assert shown["volume_image_metadata"]["image_id"] == other, shown

    # Its snapshot: a volume snapshot and an image that maps it.
    cloud.openstack("server", "image", "create", "--name", "bfv-snap", "--wait", "bfv")
    snap_image = cloud.openstack_json("image", "show", "bfv-snap")
    assert snap_image["status"] == "active" and snap_image["size"] == 0, snap_image
    snapshots = cloud.openstack_json("volume", "snapshot", "list", "--volume", root)
    assert [s["Name"] for s in snapshots] == ["snapshot for bfv-snap"], snapshots
    deadline = time.time() + 60
    while cloud.openstack_json("volume", "snapshot", "show", snapshots[0]["ID"])["status"] != "available":
        assert time.time() < deadline
        time.sleep(0.2)
    # A server booted from that image boots from a new volume of the snapshot.
    cloud.openstack_json("server", "create", "--flavor", "m1.tiny", "--image", "bfv-snap", "--nic", "none",
                         "--wait", "again")
    ((new_root, device),) = attachments(cloud, "again")
    assert device == "/dev/vda" and new_root != root
    assert cloud.openstack_json("volume", "show", new_root)["snapshot_id"] == snapshots[0]["ID"]

    # python-cinderclient reimages an available volume (3.68).
    cloud.openstack("server", "delete", "--wait", "bfv")
    wait_for(cloud, root, "available")
    res = subprocess.run(["cinder", "--os-volume-api-version", "3.68", "reimage", root, image], capture_output=True,
                         text=True, env=cloud.rc_env(), timeout=120)
    assert res.returncode == 0, res.stderr
    deadline = time.time() + 60
    while (shown := cloud.openstack_json("volume", "show", root))["volume_image_metadata"]["image_id"] != image:
        assert time.time() < deadline and shown["status"] in ("downloading", "available"), shown
        time.sleep(0.2)
    wait_for(cloud, root, "available")
