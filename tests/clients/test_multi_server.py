"""Several `oxistack serve` processes on one PostgreSQL database serve one
cloud: each runs a compute host of its own (`--host`), and whatever one
accepts the other sees, uses and deletes; an operation on an instance of the
other's host is done by that host's server."""

import concurrent.futures
import signal
import time

import pytest
import requests

from conftest import POSTGRES, Cloud

pytestmark = pytest.mark.skipif(
    not POSTGRES, reason="servers share a PostgreSQL database: these run in the suite's PostgreSQL pass")

PASSWORD = "two-servers-s3cret"
C = "/compute/v2.1"


def pair(tmp_path, *extra):
    """Two servers on one database and one image store, hosts host-a and host-b."""
    a = Cloud(tmp_path / "a")
    b = Cloud(tmp_path / "b", database=a.database)
    common = ["--admin-password", PASSWORD, "--image-dir", str(tmp_path / "images"), *extra]
    a.start("--host", "host-a", *common)
    b.start("--host", "host-b", *common)
    return a, b


def token(cloud, project="admin", user="admin", password=PASSWORD):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    r = requests.post(f"{cloud.url}/identity/v3/auth/tokens", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"], r.json()["token"]["project"]["id"]


def api(cloud, tok, method, path, body=None, **kw):
    headers = {"X-Auth-Token": tok, **kw.pop("headers", {})}
    return requests.request(method, f"{cloud.url}{path}", json=body, headers=headers, timeout=60, **kw)


def upload_image(cloud, tok, name="tiny"):
    r = api(cloud, tok, "POST", "/image/v2/images",
            {"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "public"})
    assert r.status_code == 201, r.text
    image = r.json()["id"]
    data = bytes(range(256)) * 4096
    r = api(cloud, tok, "PUT", f"/image/v2/images/{image}/file", None, data=data,
            headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    return image, data


def boot(cloud, tok, image, name, **extra):
    return api(cloud, tok, "POST", f"{C}/servers",
               {"server": {"name": name, "imageRef": image, "flavorRef": "1", "networks": "auto", **extra.pop(
                   "server", {})}, **extra},
               headers={"X-OpenStack-Nova-API-Version": "2.37"})


def wait(check, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {timeout} s")


def server(cloud, tok, sid):
    r = api(cloud, tok, "GET", f"{C}/servers/{sid}")
    return r.json()["server"] if r.status_code == 200 else None


def test_what_one_server_makes_the_other_uses_and_deletes(tmp_path):
    a, b = pair(tmp_path)
    try:
        tok_a, project = token(a)
        tok_b, _ = token(b)
        # A token one server issued validates on the other.
        r = api(b, tok_b, "GET", "/identity/v3/auth/tokens", headers={"X-Subject-Token": tok_a})
        assert r.status_code == 200 and r.json()["token"]["project"]["id"] == project, r.text

        # An image uploaded through one is served, data and all, and deleted by the other.
        image, data = upload_image(a, tok_a)
        shown = api(b, tok_b, "GET", f"/image/v2/images/{image}").json()
        assert shown["status"] == "active" and shown["size"] == len(data), shown
        assert api(b, tok_b, "GET", f"/image/v2/images/{image}/file").content == data

        # A port made through one is deleted through the other.
        private = api(a, tok_a, "GET", "/network/v2.0/networks?name=private").json()["networks"][0]["id"]
        r = api(b, tok_b, "POST", "/network/v2.0/ports", {"port": {"network_id": private, "name": "p1"}})
        assert r.status_code == 201, r.text
        port = r.json()["port"]["id"]
        assert api(a, tok_a, "GET", f"/network/v2.0/ports/{port}").json()["port"]["name"] == "p1"
        assert api(a, tok_a, "DELETE", f"/network/v2.0/ports/{port}").status_code == 204
        assert api(b, tok_b, "GET", f"/network/v2.0/ports/{port}").status_code == 404

        # A server booted through A is on A's host; the other server sees it.
        r = boot(a, tok_a, image, "vm-a")
        assert r.status_code == 202, r.text
        sid = r.json()["server"]["id"]
        s = wait(lambda: (x := server(b, tok_b, sid)) and x["status"] == "ACTIVE" and x, "ACTIVE")
        assert s["OS-EXT-SRV-ATTR:host"] == "host-a", s
        # Stopped through B: A's server does it, and both see it SHUTOFF.
        r = api(b, tok_b, "POST", f"{C}/servers/{sid}/action", {"os-stop": None})
        assert r.status_code == 202, r.text
        wait(lambda: (x := server(a, tok_a, sid)) and x["status"] == "SHUTOFF", "SHUTOFF through the other server")
        assert "handed the operation to the server of its host" in b.log.read_text()
        # The python-openstackclient of B's RC file lists and deletes it.
        listed = b.openstack_json("server", "list")
        assert [x["ID"] for x in listed] == [sid], listed
        b.openstack("server", "delete", sid)
        wait(lambda: server(a, tok_a, sid) is None, "the delete through the other server")
        # A's server destroyed the guest and released its port.
        wait(lambda: api(a, tok_a, "GET", f"/network/v2.0/ports?device_id={sid}").json()["ports"] == [],
             "the deleted server's ports to go")
        events = api(b, tok_b, "GET", f"{C}/servers/{sid}/os-instance-actions",
                     headers={"X-OpenStack-Nova-API-Version": "2.21"}).json()["instanceActions"]
        assert [e["action"] for e in events][:2] == ["delete", "stop"], events
        for act in events[:2]:
            detail = api(b, tok_b, "GET", f"{C}/servers/{sid}/os-instance-actions/{act['request_id']}",
                         headers={"X-OpenStack-Nova-API-Version": "2.21"}).json()["instanceAction"]
            assert [e["result"] for e in detail["events"]] == ["Success"], detail

        # The image goes through B; A answers 404 for it.
        assert api(b, tok_b, "DELETE", f"/image/v2/images/{image}").status_code == 204
        assert api(a, tok_a, "GET", f"/image/v2/images/{image}").status_code == 404

        # A token revoked through B is refused by A.
        assert api(b, tok_b, "DELETE", "/identity/v3/auth/tokens", headers={"X-Subject-Token": tok_a}).status_code == 204
        assert api(a, tok_a, "GET", f"{C}/servers").status_code == 401
    finally:
        b.stop()
        a.stop()


def test_forty_boots_split_across_two_servers_keep_quota_and_capacity(tmp_path):
    # Each host takes 15 one-vCPU servers (1000 fake vCPUs at 0.015): the
    # cloud 30. The project may have 35.
    a, b = pair(tmp_path, "--cpu-allocation-ratio", "0.015")
    try:
        tok, project = token(a)
        image, _ = upload_image(a, tok)
        r = api(a, tok, "PUT", f"{C}/os-quota-sets/{project}", {"quota_set": {"instances": 35, "cores": 100}})
        assert r.status_code == 200, r.text
        targets = [a, b] * 20
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda ic: boot(ic[1], tok, image, f"burst-{ic[0]}"), enumerate(targets)))
        codes = sorted(r.status_code for r in answers)
        assert set(codes) <= {202, 403}, [r.text for r in answers if r.status_code not in (202, 403)]
        # The quota lets exactly 35 in, whichever server took them.
        assert codes.count(202) == 35, codes
        assert all("Quota exceeded" in r.text for r in answers if r.status_code == 403)

        def settled():
            s = api(b, tok, "GET", f"{C}/servers/detail").json()["servers"]
            return s if len(s) == 35 and all(x["status"] in ("ACTIVE", "ERROR") for x in s) else None

        servers = wait(settled, "the 35 boots to settle")
        # The scheduler fills both hosts, wherever the request came in, and
        # no further: 15 on each, the last 5 as Nova ends them.
        active = [s for s in servers if s["status"] == "ACTIVE"]
        per_host = {h: sum(1 for s in active if s["OS-EXT-SRV-ATTR:host"] == h) for h in ("host-a", "host-b")}
        assert per_host == {"host-a": 15, "host-b": 15}, per_host
        errors = [s for s in servers if s["status"] == "ERROR"]
        assert len(errors) == 5, errors
        for s in errors:
            assert "No valid host" in s["fault"]["message"], s
            assert s["OS-EXT-SRV-ATTR:host"] is None, s
        limits = api(a, tok, "GET", f"{C}/limits").json()["limits"]["absolute"]
        assert limits["totalInstancesUsed"] == 35, limits
        hypervisors = api(b, tok, "GET", f"{C}/os-hypervisors/detail",
                          headers={"X-OpenStack-Nova-API-Version": "2.87"}).json()["hypervisors"]
        assert sorted((h["hypervisor_hostname"], h["running_vms"], h["vcpus_used"]) for h in hypervisors) == [
            ("host-a", 15, 15), ("host-b", 15, 15)], hypervisors
    finally:
        b.stop()
        a.stop()


def test_the_scheduler_places_boots_on_either_host(tmp_path):
    # Each host takes two one-vCPU servers.
    a, b = pair(tmp_path, "--cpu-allocation-ratio", "0.002")
    try:
        tok, project = token(a)
        image, _ = upload_image(a, tok)
        # python-openstackclient sees both hosts, up, from either server.
        listed = a.openstack_json("hypervisor", "list")
        assert sorted((h["Hypervisor Hostname"], h["State"]) for h in listed) == [
            ("host-a", "up"), ("host-b", "up")], listed
        computes = [s for s in b.openstack_json("compute", "service", "list") if s["Binary"] == "nova-compute"]
        assert sorted((s["Host"], s["State"]) for s in computes) == [("host-a", "up"), ("host-b", "up")], computes

        # Four boots through A: equal hosts take them in turn (the freer
        # first, A's own on a tie), so B's server builds two of them.
        ids = []
        for i in range(4):
            r = boot(a, tok, image, f"spread-{i}")
            assert r.status_code == 202, r.text
            ids.append(r.json()["server"]["id"])
        shown = [wait(lambda: (x := server(a, tok, sid)) and x["status"] == "ACTIVE" and x, f"{sid} ACTIVE")
                 for sid in ids]
        assert [s["OS-EXT-SRV-ATTR:host"] for s in shown] == ["host-a", "host-b", "host-a", "host-b"], shown
        assert "handed the operation to the server of its host" in a.log.read_text()
        # A handed-over build is B's: its ports are bound to host-b.
        ports = api(a, tok, "GET", f"/network/v2.0/ports?device_id={ids[1]}").json()["ports"]
        assert [p["binding:host_id"] for p in ports] == ["host-b"], ports
        # The cloud is full: the fifth ends in ERROR with NoValidHost.
        r = boot(b, tok, image, "one-too-many")
        assert r.status_code == 202, r.text
        over = wait(lambda: (x := server(a, tok, r.json()["server"]["id"])) and x["status"] == "ERROR" and x,
                    "NoValidHost")
        assert "No valid host was found" in over["fault"]["message"], over
        for sid in ids + [over["id"]]:
            assert api(b, tok, "DELETE", f"{C}/servers/{sid}").status_code == 204
        wait(lambda: api(a, tok, "GET", f"{C}/servers").json()["servers"] == [], "all deletes")

        # An admin names the host (`zone:host`); a member may not.
        r = boot(a, tok, image, "forced", server={"availability_zone": "nova:host-b"})
        assert r.status_code == 202, r.text
        forced = r.json()["server"]["id"]
        s = wait(lambda: (x := server(a, tok, forced)) and x["status"] == "ACTIVE" and x, "the forced boot")
        assert s["OS-EXT-SRV-ATTR:host"] == "host-b", s
        a.openstack("user", "create", "--password", "member-s3cret", "mia")
        a.openstack("role", "add", "--user", "mia", "--project", "admin", "member")
        member, _ = token(a, user="mia", password="member-s3cret")
        r = boot(b, member, image, "not-yours", server={"availability_zone": "nova:host-a"})
        assert r.status_code == 403 and "forced_host" in r.json()["forbidden"]["message"], r.text
        r = boot(b, tok, image, "nowhere", server={"availability_zone": "nova:host-c"})
        assert r.status_code == 400, r.text
        assert api(a, tok, "DELETE", f"{C}/servers/{forced}").status_code == 204
        wait(lambda: server(a, tok, forced) is None, "the forced server's delete")

        # An anti-affinity group's members go to different hosts; a third
        # has none left.
        r = api(b, tok, "POST", f"{C}/os-server-groups",
                {"server_group": {"name": "apart", "policies": ["anti-affinity"]}})
        assert r.status_code == 200, r.text
        group = r.json()["server_group"]["id"]
        members = []
        for i in range(3):
            r = boot(b, tok, image, f"apart-{i}", **{"os:scheduler_hints": {"group": group}})
            assert r.status_code == 202, r.text
            members.append(r.json()["server"]["id"])
        settled = [wait(lambda: (x := server(a, tok, sid)) and x["status"] in ("ACTIVE", "ERROR") and x, "settled")
                   for sid in members]
        assert sorted(str(s["OS-EXT-SRV-ATTR:host"]) for s in settled) == ["None", "host-a", "host-b"], settled
    finally:
        b.stop()
        a.stop()


def test_moves_through_one_server_run_on_the_other_host(tmp_path):
    a, b = pair(tmp_path)
    try:
        tok, _ = token(a)
        image, data = upload_image(a, tok)
        # The clients go where the catalog says: the server that started
        # last. The server to move lives on the other one's host.
        catalog = api(a, tok, "GET", "/identity/v3/auth/catalog").json()["catalog"]
        compute = [e["url"] for s in catalog if s["type"] == "compute" for e in s["endpoints"]
                   if e["interface"] == "public"][0]
        front, back = (a, b) if compute.startswith(a.url) else (b, a)
        front_host, back_host = ("host-a", "host-b") if front is a else ("host-b", "host-a")
        r = boot(front, tok, image, "roamer", server={"availability_zone": f"nova:{back_host}"})
        assert r.status_code == 202, r.text
        sid = r.json()["server"]["id"]

        def status_is(want):
            return lambda: (x := server(front, tok, sid)) and x["status"] == want and x

        s = wait(status_is("ACTIVE"), f"the boot on {back_host}")
        assert s["OS-EXT-SRV-ATTR:host"] == back_host, s

        # python-openstackclient, through the front server; the back one's
        # server does each move on its host.
        handed = front.log.read_text().count("handed the operation to the server of its host")
        front.openstack("server", "resize", "--flavor", "m1.small", sid)
        s = wait(status_is("VERIFY_RESIZE"), "the resize")
        assert s["flavor"]["id"] == "2" and s["OS-EXT-SRV-ATTR:host"] == back_host, s
        front.openstack("server", "resize", "revert", sid)
        s = wait(status_is("ACTIVE"), "the revert")
        assert s["flavor"]["id"] == "1", s
        front.openstack("server", "rescue", sid)
        wait(status_is("RESCUE"), "the rescue")
        front.openstack("server", "unrescue", sid)
        wait(status_is("ACTIVE"), "the unrescue")
        front.openstack("server", "rebuild", "--image", image, sid)
        s = wait(status_is("ACTIVE"), "the rebuild")
        assert s["image"]["id"] == image and s["OS-EXT-SRV-ATTR:host"] == back_host, s
        # The snapshot's image is the front server's answer; its data comes
        # from the back one's host.
        snap = front.openstack_json("server", "image", "create", "--name", "roamer-snap", "--wait", sid)
        got = requests.get(f"{a.url}/image/v2/images/{snap['id']}/file", headers={"X-Auth-Token": tok}, timeout=60)
        assert got.status_code == 200 and got.content == data, got.status_code
        wait(status_is("ACTIVE"), "the end of the snapshot")
        assert front.log.read_text().count("handed the operation to the server of its host") == handed + 6
        # The console log is read from the instance's host.
        log = front.openstack("console", "log", "show", sid).stdout
        assert f"FAKE CONSOLE OUTPUT\nfor instance {sid}" in log, log
        # A serial console is its host's: the fake driver's instances have none
        # (its host reported no serial proxy), through either server.
        for cloud in (front, back):
            r = api(cloud, tok, "POST", f"{C}/servers/{sid}/action", {"os-getSerialConsole": {"type": "serial"}})
            assert r.status_code == 400 and "Unavailable console type serial" in r.text, r.text
        events = front.openstack_json("server", "event", "list", sid)
        assert {"resize", "revertResize", "rescue", "unrescue", "rebuild", "createImage"} <= {
            e["Action"] for e in events}, events
        # Shelving frees the host; unshelving boots it where the front server runs.
        front.openstack("server", "shelve", sid)
        s = wait(status_is("SHELVED_OFFLOADED"), "the shelve")
        assert s["OS-EXT-SRV-ATTR:host"] is None, s
        front.openstack("server", "unshelve", sid)
        s = wait(status_is("ACTIVE"), "the unshelve")
        assert s["OS-EXT-SRV-ATTR:host"] == front_host, s
        assert api(back, tok, "DELETE", f"{C}/servers/{sid}").status_code == 204
        wait(lambda: server(front, tok, sid) is None, "the delete")
    finally:
        b.stop()
        a.stop()


def test_a_server_killed_mid_boot_leaves_nothing_stuck(tmp_path):
    a, b = pair(tmp_path)
    try:
        tok, _ = token(a)
        image, _ = upload_image(a, tok)
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(boot, a, tok, image, f"cut-{i}") for i in range(6)]
            # The first answer is in; the others are in flight when A dies.
            next(concurrent.futures.as_completed(futures))
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=30)
            a.proc = None
            answered = [f.result() for f in futures if not f.exception()]
        assert any(r.status_code == 202 for r in answered)
        # B keeps serving: it lists, issues tokens and boots on its own host
        # (named: A's last heartbeat counts as up for Nova's 60 s of
        # `service_down_time`, and the scheduler would weigh it).
        tok_b, _ = token(b)
        assert api(b, tok_b, "GET", f"{C}/servers/detail").status_code == 200
        r = boot(b, tok_b, image, "on-b", server={"availability_zone": "nova:host-b"})
        assert r.status_code == 202, r.text
        on_b = r.json()["server"]["id"]
        assert wait(lambda: (x := server(b, tok_b, on_b)) and x["status"] == "ACTIVE" and x, "ACTIVE on B")[
            "OS-EXT-SRV-ATTR:host"] == "host-b"
        # A restarts on its data dir and host: nothing stays mid-operation.
        a.start("--host", "host-a", "--admin-password", PASSWORD, "--image-dir", str(tmp_path / "images"))

        def settled():
            s = api(b, tok_b, "GET", f"{C}/servers/detail").json()["servers"]
            return s if all(x["status"] in ("ACTIVE", "ERROR") and x["OS-EXT-STS:task_state"] is None
                            for x in s) else None

        servers = wait(settled, "every server to settle after the restart")
        for s in servers:
            if s["status"] == "ERROR":
                assert s["fault"]["message"], s
        # And every one of them can be deleted, through either server.
        for s in servers:
            assert api(b, tok_b, "DELETE", f"{C}/servers/{s['id']}").status_code == 204
        wait(lambda: api(a, tok, "GET", f"{C}/servers").json()["servers"] == [], "all deletes")
        wait(lambda: [p for p in api(a, tok, "GET", "/network/v2.0/ports").json()["ports"]
                      if p["device_owner"].startswith("compute:")] == [], "the servers' ports to go")
    finally:
        b.stop()
        a.stop()
