"""Compute with the real python-novaclient (the walk-through, as written),
python-openstackclient and openstacksdk, against a freshly started
`oxistack serve` with the fake driver."""

import json
import subprocess
import time

import openstack
import requests

from conftest import Cloud
from test_image import qcow2, token


def nova(cloud, *args, check=True):
    res = subprocess.run(["nova", *args], capture_output=True, text=True, env=cloud.rc_env(), timeout=120)
    if check and res.returncode != 0:
        raise AssertionError(f"nova {' '.join(args)} failed ({res.returncode}):\n{res.stderr}")
    return res


def table_rows(output):
    """The data rows of a PrettyTable, as lists of cells."""
    rows = []
    for line in output.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows[1:]


def status_of(cloud, name):
    props = dict((r[0], r[1]) for r in table_rows(nova(cloud, "show", name).stdout) if len(r) == 2)
    return props["status"]


def wait_status(cloud, name, want, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = status_of(cloud, name)
        if got == want:
            return
        time.sleep(0.3)
    raise AssertionError(f"{name} is {got}, not {want}")


def image_id(cloud, tmp_path):
    return cloud.openstack_json("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                                "--file", str(qcow2(tmp_path / "cirros.qcow2")), "cirros")["id"]


def test_the_walkthrough_with_novaclient(cloud, tmp_path):
    assert table_rows(nova(cloud, "list").stdout) == []
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-f", str(tmp_path / "id_rsa"), "-N", ""], check=True)
    nova(cloud, "keypair-add", "--pub-key", str(tmp_path / "id_rsa.pub"), "SSHKEY")
    keys = table_rows(nova(cloud, "keypair-list").stdout)
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(tmp_path / "id_rsa.pub")],
                                 capture_output=True, text=True, check=True).stdout.split()[1].removeprefix("MD5:")
    assert keys == [["SSHKEY", "ssh", fingerprint]]

    flavors = {r[1]: r for r in table_rows(nova(cloud, "flavor-list").stdout)}
    assert flavors["m1.tiny"][:3] == ["1", "m1.tiny", "512"]
    assert {"m1.nano", "m1.micro", "m1.xlarge"} <= set(flavors)

    image = image_id(cloud, tmp_path)
    boot = nova(cloud, "boot", "--key-name", "SSHKEY", "--flavor", "1", "--image", image, "instance1", "--poll")
    assert "Finished" in boot.stdout
    rows = table_rows(nova(cloud, "list").stdout)
    assert [(r[1], r[2]) for r in rows] == [("instance1", "ACTIVE")]
    show = dict((r[0], r[1]) for r in table_rows(nova(cloud, "show", "instance1").stdout) if len(r) == 2)
    assert show["key_name"] == "SSHKEY" and show["flavor:original_name"] == "m1.tiny"
    assert image in show["image"]

    for action, status in [("stop", "SHUTOFF"), ("start", "ACTIVE"), ("reboot", "ACTIVE"), ("pause", "PAUSED"),
                           ("unpause", "ACTIVE"), ("suspend", "SUSPENDED"), ("resume", "ACTIVE")]:
        nova(cloud, action, "instance1")
        wait_status(cloud, "instance1", status)
    nova(cloud, "pause", "instance1")
    wait_status(cloud, "instance1", "PAUSED")
    refused = nova(cloud, "suspend", "instance1", check=False)
    assert refused.returncode != 0 and "HTTP 409" in refused.stderr and "vm_state paused" in refused.stderr

    nova(cloud, "delete", "instance1")
    deadline = time.time() + 30
    while table_rows(nova(cloud, "list").stdout) and time.time() < deadline:
        time.sleep(0.3)
    assert table_rows(nova(cloud, "list").stdout) == []


def test_openstackclient_and_openstacksdk_boot_servers(cloud, tmp_path):
    image = image_id(cloud, tmp_path)
    server = cloud.openstack_json("server", "create", "--flavor", "m1.tiny", "--image", image, "--wait", "vm1")
    assert server["status"] == "ACTIVE"
    listed = cloud.openstack_json("server", "list", "--long")
    assert [(s["Name"], s["Status"], s["Flavor"], s["Image Name"]) for s in listed] == [("vm1", "ACTIVE", "m1.tiny", "cirros")]
    assert cloud.openstack_json("server", "show", "vm1")["id"] == server["id"]
    cloud.openstack("server", "delete", "--wait", "vm1")
    assert cloud.openstack_json("server", "list") == []

    env = cloud.rc_env()
    conn = openstack.connect(auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"], password=env["OS_PASSWORD"],
                             project_name=env["OS_PROJECT_NAME"], user_domain_name="Default",
                             project_domain_id="default", region_name="RegionOne")
    s = conn.compute.create_server(name="sdk1", image_id=image, flavor_id="1", networks="none")
    s = conn.compute.wait_for_server(s, wait=60)
    assert s.status == "ACTIVE"
    conn.compute.delete_server(s)
    conn.compute.wait_for_delete(s, wait=60)


def test_bad_input_quota_and_versions(cloud, tmp_path):
    h = {"X-Auth-Token": token(cloud), "OpenStack-API-Version": "compute 2.96"}
    base = f"{cloud.url}/compute/v2.1"
    image = image_id(cloud, tmp_path)

    r = requests.get(f"{cloud.url}/compute/")
    assert next(v for v in r.json()["versions"] if v["id"] == "v2.1")["version"] == "2.104"
    r = requests.get(f"{base}/servers", headers={**h, "OpenStack-API-Version": "compute 2.200"})
    assert r.status_code == 406 and r.headers["OpenStack-API-Version"] == "compute 2.1"
    assert "Minimum is 2.1 and maximum is 2.104" in r.json()["notAcceptable"]["message"]
    r = requests.get(f"{base}/servers", headers=h)
    assert r.headers["OpenStack-API-Version"] == "compute 2.96" and "OpenStack-API-Version" in r.headers["Vary"]

    def boot(**server):
        body = {"server": {"name": "x", "imageRef": image, "flavorRef": "1", "networks": "none", **server}}
        return requests.post(f"{base}/servers", headers=h, json=body)

    r = boot(flavorRef="999")
    assert r.status_code == 400 and "Flavor 999 could not be found" in r.json()["badRequest"]["message"]
    r = requests.post(f"{base}/servers", headers=h, data="{nope")
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == "Malformed request body"
    r = boot(name=17)
    assert r.status_code == 400 and "name" in r.json()["badRequest"]["message"]
    r = boot(bogus=1)
    assert r.status_code == 400 and "'bogus' was unexpected" in r.json()["badRequest"]["message"]
    r = requests.patch(f"{cloud.url}/image/v2/images/{image}",
                       headers={**h, "Content-Type": "application/openstack-images-v2.1-json-patch"},
                       json=[{"op": "replace", "path": "/min_ram", "value": 1024}])
    assert r.status_code == 200
    r = boot()
    assert r.status_code == 400 and "memory is too small" in r.json()["badRequest"]["message"]
    requests.patch(f"{cloud.url}/image/v2/images/{image}",
                   headers={**h, "Content-Type": "application/openstack-images-v2.1-json-patch"},
                   json=[{"op": "replace", "path": "/min_ram", "value": 0}])

    # Quota: 10 instances per project by default.
    r = boot(min_count=10, max_count=10, return_reservation_id=True)
    assert r.status_code == 202 and r.json()["reservation_id"].startswith("r-")
    r = boot()
    assert r.status_code == 403
    assert r.json()["forbidden"]["message"].startswith("Quota exceeded for instances")
    r = requests.get(f"{base}/servers?limit=4", headers=h)
    assert len(r.json()["servers"]) == 4 and r.json()["servers_links"][0]["rel"] == "next"
    r = requests.get(f"{base}/servers?name=^x-1[0]?$", headers=h)
    assert sorted(s["name"] for s in r.json()["servers"]) == ["x-1", "x-10"]
    # The server keeps serving.
    assert requests.get(f"{base}/flavors/1", headers=h).json()["flavor"]["name"] == "m1.tiny"


def test_novaclient_beyond_the_walkthrough(cloud, tmp_path):
    image = image_id(cloud, tmp_path)
    nova(cloud, "boot", "--flavor", "1", "--image", image, "--meta", "role=web", "--nic", "none", "vm2", "--poll")
    nova(cloud, "meta", "vm2", "set", "tier=front")
    show = dict((r[0], r[1]) for r in table_rows(nova(cloud, "show", "vm2").stdout) if len(r) == 2)
    assert json.loads(show["metadata"]) == {"role": "web", "tier": "front"}

    nova(cloud, "resize", "vm2", "2")
    wait_status(cloud, "vm2", "VERIFY_RESIZE")
    nova(cloud, "resize-confirm", "vm2")
    wait_status(cloud, "vm2", "ACTIVE")
    show = dict((r[0], r[1]) for r in table_rows(nova(cloud, "show", "vm2").stdout) if len(r) == 2)
    assert show["flavor:original_name"] == "m1.small"

    assert "LAST LINE" in nova(cloud, "console-log", "vm2").stdout
    nova(cloud, "image-create", "--poll", "vm2", "vm2-snap")
    snap = cloud.openstack_json("image", "show", "vm2-snap")
    assert snap["status"] == "active" and snap["properties"]["image_type"] == "snapshot"

    actions = [r[0] for r in table_rows(nova(cloud, "instance-action-list", "vm2").stdout)]
    # novaclient prints them oldest first.
    assert actions == ["create", "resize", "confirmResize", "createImage"]

    hypervisors = table_rows(nova(cloud, "hypervisor-list").stdout)
    assert [(r[1], r[2], r[3]) for r in hypervisors] == [("oxistack", "up", "enabled")]
    binaries = {r[1] for r in table_rows(nova(cloud, "service-list").stdout)}
    assert binaries == {"nova-scheduler", "nova-conductor", "nova-compute"}
    project = cloud.rc_env()["OS_PROJECT_ID"]
    usage = nova(cloud, "usage").stdout
    assert "Usage from" in usage and "Servers" in usage
    assert table_rows(nova(cloud, "usage-list").stdout)[0][0] == project
    nova(cloud, "quota-update", "--instances", "3", project)
    quota = dict((r[0], r[1]) for r in table_rows(nova(cloud, "quota-show", "--tenant", project).stdout))
    assert quota["instances"] == "3"
    nova(cloud, "delete", "vm2")


def test_servers_stay_manageable_across_a_restart(cloud, tmp_path):
    image = image_id(cloud, tmp_path)
    nova(cloud, "boot", "--flavor", "1", "--image", image, "--nic", "none", "keep", "--poll")
    nova(cloud, "pause", "keep")
    wait_status(cloud, "keep", "PAUSED")
    cloud.stop()
    cloud.start()
    assert status_of(cloud, "keep") == "PAUSED"
    nova(cloud, "unpause", "keep")
    wait_status(cloud, "keep", "ACTIVE")
    nova(cloud, "stop", "keep")
    wait_status(cloud, "keep", "SHUTOFF")


def test_two_hundred_servers_in_batches_of_twenty(cloud, tmp_path):
    h = {"X-Auth-Token": token(cloud), "OpenStack-API-Version": "compute 2.96"}
    base = f"{cloud.url}/compute/v2.1"
    image = image_id(cloud, tmp_path)
    project = cloud.rc_env()["OS_PROJECT_ID"]
    r = requests.put(f"{base}/os-quota-sets/{project}", headers=h,
                     json={"quota_set": {"instances": 200, "cores": 200, "ram": 200 * 128}})
    assert r.status_code == 200, r.text
    for batch in range(10):
        body = {"server": {"name": f"b{batch}", "imageRef": image, "flavorRef": "42", "networks": "none",
                           "min_count": 20, "max_count": 20}}
        assert requests.post(f"{base}/servers", headers=h, json=body).status_code == 202
    deadline = time.time() + 120
    while True:
        servers = requests.get(f"{base}/servers/detail", headers=h).json()["servers"]
        if len(servers) == 200 and all(s["status"] == "ACTIVE" for s in servers):
            break
        assert time.time() < deadline, "the 200 servers did not all reach ACTIVE"
        time.sleep(0.5)
    # Quota is full: one more is refused.
    r = requests.post(f"{base}/servers", headers=h, json={"server": {
        "name": "extra", "imageRef": image, "flavorRef": "42", "networks": "none"}})
    assert r.status_code == 403 and "Quota exceeded for instances" in r.json()["forbidden"]["message"]
    for s in servers:
        assert requests.delete(f"{base}/servers/{s['id']}", headers=h).status_code == 204
    assert requests.get(f"{base}/servers", headers=h).json()["servers"] == []
    deadline = time.time() + 60
    while True:
        hyp = requests.get(f"{base}/os-hypervisors/detail", headers={**h, "OpenStack-API-Version": "compute 2.87"})
        if hyp.json()["hypervisors"][0]["running_vms"] == 0:
            break
        assert time.time() < deadline
        time.sleep(0.5)
    usage = requests.get(f"{base}/limits", headers=h).json()["limits"]["absolute"]
    assert usage["totalInstancesUsed"] == 0 and usage["totalCoresUsed"] == 0


def test_migrate_and_evacuate_on_one_host(cloud):
    image = cloud.openstack_json("image", "create", "--disk-format", "raw", "--container-format", "bare", "m")["id"]
    nova(cloud, "boot", "--flavor", "1", "--image", image, "--poll", "mover")
    migrate = nova(cloud, "migrate", "mover", check=False)
    assert migrate.returncode == 1 and "No valid host was found" in migrate.stderr and "HTTP 400" in migrate.stderr
    evacuate = nova(cloud, "evacuate", "mover", check=False)
    assert evacuate.returncode == 1 and "is still in use" in evacuate.stderr
    assert status_of(cloud, "mover") == "ACTIVE"


def test_the_scheduler_places_only_what_the_host_holds(tmp_path):
    # The fake driver's host has 1000 vCPUs; a ratio of 0.004 leaves 4.
    cloud = Cloud(tmp_path / "data").start("--cpu-allocation-ratio", "0.004")
    try:
        image = image_id(cloud, tmp_path)
        nova(cloud, "boot", "--flavor", "1", "--image", image, "--nic", "none", "--min-count", "5", "many")
        deadline = time.time() + 30
        while True:
            rows = table_rows(nova(cloud, "list").stdout)
            if all(r[2] != "BUILD" for r in rows) or time.time() > deadline:
                break
            time.sleep(0.3)
        statuses = sorted(r[2] for r in rows)
        assert statuses == ["ACTIVE"] * 4 + ["ERROR"], statuses
        failed = next(r[1] for r in rows if r[2] == "ERROR")
        fault = json.loads(dict((r[0], r[1]) for r in table_rows(nova(cloud, "show", failed).stdout))["fault"])
        assert fault["message"] == "No valid host was found. There are not enough hosts available."
        # Room again once a server is gone.
        nova(cloud, "delete", failed, next(r[1] for r in rows if r[2] == "ACTIVE"))
        deadline = time.time() + 30
        while len(table_rows(nova(cloud, "list").stdout)) > 3 and time.time() < deadline:
            time.sleep(0.3)
        nova(cloud, "boot", "--flavor", "1", "--image", image, "--nic", "none", "again", "--poll")
        assert status_of(cloud, "again") == "ACTIVE"
        # Full again: a resize that needs another vCPU finds no room either.
        refused = nova(cloud, "resize", "again", "3", check=False)
        assert refused.returncode == 1
        assert "No valid host was found. No valid host found for resize (HTTP 400)" in refused.stderr
        assert status_of(cloud, "again") == "ACTIVE"
    finally:
        cloud.stop()
    bad = subprocess.run(cloud.serve_args("--cpu-allocation-ratio", "0"), capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "a positive number is needed" in bad.stderr


def test_server_lists_filter_sort_and_page_as_nova(cloud, tmp_path):
    """More servers than a page: pages followed by their links never repeat or
    skip one, in each sort order; filters the database answers (status,
    flavor, tags, changes-since with the deleted) and those it only narrows
    (name patterns) agree with what the servers are; the clients page too."""
    image = image_id(cloud, tmp_path)
    env = cloud.rc_env()
    nova(cloud, "quota-update", "--instances", "40", "--cores", "100", "--ram", "200000", env["OS_PROJECT_ID"])
    h = {"X-Auth-Token": token(cloud), "OpenStack-API-Version": "compute 2.96"}
    base = f"{cloud.url}/compute/v2.1"

    def boot(name, n, flavor="1", **extra):
        body = {"server": {"name": name, "imageRef": image, "flavorRef": flavor, "networks": "none",
                           "min_count": n, "max_count": n, **extra}}
        r = requests.post(f"{base}/servers", headers=h, json=body)
        assert r.status_code == 202, r.text

    boot("web", 12)
    boot("db", 5, flavor="2", tags=["prod"])
    boot("cache", 3)

    def listed(query):
        r = requests.get(f"{base}/servers/detail?{query}", headers=h)
        assert r.status_code == 200, r.text
        return r.json()

    deadline = time.time() + 60
    while {s["status"] for s in listed("")["servers"]} != {"ACTIVE"} and time.time() < deadline:
        time.sleep(0.3)
    everything = listed("")["servers"]
    assert len(everything) == 20 and "servers_links" not in listed("")
    # Newest first (created_at, then id, descending), as Nova's default.
    keys = [(s["created"], s["id"]) for s in everything]
    assert keys == sorted(keys, reverse=True)

    def walk(query, size):
        page = listed(f"{query}&limit={size}")
        seen = [s["id"] for s in page["servers"]]
        while "servers_links" in page:
            href = page["servers_links"][0]["href"]
            assert page["servers_links"][0]["rel"] == "next" and f"limit={size}" in href
            page = requests.get(href, headers=h).json()
            seen += [s["id"] for s in page["servers"]]
        return seen

    assert walk("", 7) == [s["id"] for s in everything]
    by_name = listed("sort_key=display_name&sort_dir=asc")["servers"]
    assert [(s["name"], s["id"]) for s in by_name] == sorted((s["name"], s["id"]) for s in everything)
    assert walk("sort_key=display_name&sort_dir=asc", 6) == [s["id"] for s in by_name]
    assert len(walk("sort_key=uuid&sort_dir=asc", 3)) == 20

    names = lambda query: sorted(s["name"] for s in listed(query)["servers"])  # noqa: E731
    # Plain text is a match anywhere in the name; a pattern, a regex.
    assert names("name=web-1") == ["web-1", "web-10", "web-11", "web-12"]
    assert names("name=^web-1$") == ["web-1"]
    assert names("name=b-1[01]") == ["web-10", "web-11"]
    assert names("name=50%25") == [] and names("name=_") == []
    assert names("flavor=2") == [f"db-{i}" for i in range(1, 6)]
    assert names("tags=prod") == names("flavor=2")
    assert names("tags=prod,other") == [] and names("tags=pro") == []
    # A filtered list pages as well: 12 web servers in pages of 5.
    assert len(walk("name=web", 5)) == 12

    stopped = next(s for s in everything if s["name"] == "cache-1")
    r = requests.post(f"{base}/servers/{stopped['id']}/action", headers=h, json={"os-stop": None})
    assert r.status_code == 202
    deadline = time.time() + 30
    while names("status=SHUTOFF") != ["cache-1"] and time.time() < deadline:
        time.sleep(0.3)
    assert names("status=SHUTOFF") == ["cache-1"]
    assert len(listed("status=ACTIVE")["servers"]) == 19
    assert names("status=SHUTOFF&status=BUILD") == ["cache-1"]

    since = listed("")["servers"][0]["updated"]
    gone = next(s for s in everything if s["name"] == "cache-2")
    assert requests.delete(f"{base}/servers/{gone['id']}", headers=h).status_code == 204
    deadline = time.time() + 30
    while len(listed("")["servers"]) != 19 and time.time() < deadline:
        time.sleep(0.3)
    changed = {s["name"]: s["status"] for s in listed(f"changes-since={since}")["servers"]}
    assert changed.get("cache-2") == "DELETED"
    assert "cache-2" not in names("")

    r = requests.get(f"{base}/servers?marker=00000000-0000-0000-0000-000000000000", headers=h)
    assert r.status_code == 400 and "marker [00000000-0000-0000-0000-000000000000] not found" in r.text

    # python-openstackclient and openstacksdk page through the links.
    rows = cloud.openstack_json("server", "list", "--limit", "4", "--flavor", "1")
    assert len(rows) == 4
    conn = openstack.connect(auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"], password=env["OS_PASSWORD"],
                             project_name=env["OS_PROJECT_NAME"], user_domain_name="Default",
                             project_domain_id="default", region_name="RegionOne")
    assert len(list(conn.compute.servers(paginated=True, limit=4))) == 19
    assert sorted(s.name for s in conn.compute.servers(name="^db")) == names("flavor=2")
