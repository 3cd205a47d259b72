"""What the README promises and no other test shows, each against a freshly
started `oxistack serve` with the real clients (or HTTP where a client has no
command for it). Section by section, as the README lists them."""

import subprocess
import time

import requests

from conftest import Cloud
from test_image import token as issue_token
from test_nova_cli import NATIVE, run
from test_role_matrix import matrix_with_image

I = "/identity/v3"


def env_without_scope(cloud, user, password):
    """A user's environment with no project: scopes are asked per command."""
    env = {k: v for k, v in cloud.rc_env().items() if not k.startswith("OS_PROJECT") and k != "OS_TENANT_NAME"}
    return {**env, "OS_USERNAME": user, "OS_PASSWORD": password}


# Identity.

def test_system_grants_and_a_users_groups(cloud):
    c = cloud.openstack
    c("user", "create", "--password", "pw-ops", "ops")
    c("group", "create", "operators")
    c("group", "add", "user", "operators", "ops")
    listed = cloud.openstack_json("group", "list", "--user", "ops")
    assert [g["Name"] for g in listed] == ["operators"], listed

    ops = env_without_scope(cloud, "ops", "pw-ops")
    system = {**ops, "OS_SYSTEM_SCOPE": "all"}
    # No grant yet: no system-scoped token.
    refused = cloud.openstack("token", "issue", env=system, check=False)
    assert refused.returncode != 0 and "401" in refused.stderr, refused.stderr
    c("role", "add", "--system", "all", "--user", "ops", "reader")
    assignments = cloud.openstack_json("role", "assignment", "list", "--user", "ops", "--system", "all", "--names")
    assert [(a["Role"], a["System"]) for a in assignments] == [("reader", "all")], assignments
    token = cloud.openstack_json("token", "issue", env=system)
    assert "project_id" not in token or not token["project_id"], token
    # A system reader reads every user, and changes none.
    users = [u["Name"] for u in cloud.openstack_json("user", "list", env=system)]
    assert "admin" in users and "ops" in users
    denied = cloud.openstack("user", "create", "--password", "x", "intruder", env=system, check=False)
    assert denied.returncode != 0 and "identity:create_user" in denied.stderr, denied.stderr


def test_v2_0_logins_by_tenant_name_and_id(cloud):
    env = cloud.rc_env()
    url = f"{cloud.url}/identity/v2.0/tokens"
    creds = {"username": env["OS_USERNAME"], "password": env["OS_PASSWORD"]}
    r = requests.post(url, json={"auth": {"passwordCredentials": creds, "tenantName": "admin"}}, timeout=30)
    assert r.status_code == 200, r.text
    access = r.json()["access"]
    tenant = access["token"]["tenant"]
    assert tenant["name"] == "admin" and any(s["type"] == "compute" for s in access["serviceCatalog"])
    # The token rescoped by tenant id, then used on the v3 API.
    r = requests.post(url, json={"auth": {"token": {"id": access["token"]["id"]}, "tenantId": tenant["id"]}},
                      timeout=30)
    assert r.status_code == 200 and r.json()["access"]["token"]["tenant"]["id"] == tenant["id"], r.text
    token = r.json()["access"]["token"]["id"]
    shown = requests.get(f"{cloud.url}{I}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token},
                         timeout=30)
    assert shown.status_code == 200 and shown.json()["token"]["project"]["id"] == tenant["id"], shown.text
    wrong = requests.post(url, json={"auth": {"passwordCredentials": {**creds, "password": "wrong"},
                                              "tenantName": "admin"}}, timeout=30)
    assert wrong.status_code == 401, wrong.text


def test_deleting_a_user_revokes_its_tokens(cloud):
    c = cloud.openstack
    c("project", "create", "p")
    c("user", "create", "--password", "pw-temp", "temp")
    c("role", "add", "--project", "p", "--user", "temp", "member")
    token = cloud.openstack_json("token", "issue", rc=cloud.user_rc("temp", "p", "pw-temp"))["id"]
    admin = {"X-Auth-Token": issue_token(cloud)}
    check = lambda: requests.get(f"{cloud.url}{I}/auth/tokens", headers={**admin, "X-Subject-Token": token},
                                 timeout=30).status_code
    own = lambda: requests.get(f"{cloud.url}/compute/v2.1/servers", headers={"X-Auth-Token": token},
                               timeout=30).status_code
    assert check() == 200 and own() == 200
    c("user", "delete", "temp")
    assert check() == 404 and own() == 401


def test_public_url_moves_the_catalog_and_the_rc_file(tmp_path):
    cloud = Cloud(tmp_path / "data")
    public = f"http://localhost:{cloud.port}"
    cloud.start("--public-url", public)
    try:
        endpoints = cloud.openstack_json("endpoint", "list")
        assert endpoints and all(e["URL"].startswith(f"{public}/") for e in endpoints), endpoints
        assert cloud.rc_env()["OS_AUTH_URL"].startswith(f"{public}/identity")
        # The clients follow the catalog there.
        assert cloud.openstack_json("flavor", "list")
        r = requests.get(f"{cloud.url}/compute/v2.1/", timeout=30)
        assert r.json()["version"]["links"][0]["href"].startswith(f"{public}/compute/v2.1")
    finally:
        cloud.stop()


def test_admin_password_given_at_start_resets_it(tmp_path):
    cloud = Cloud(tmp_path / "data").start()
    try:
        old = cloud.rc_env()["OS_PASSWORD"]
        cloud.stop()
        cloud.start("--admin-password", "a-new-admin-password")
        env = cloud.rc_env()
        assert env["OS_PASSWORD"] == "a-new-admin-password", "the RC file holds the password given"
        assert cloud.openstack_json("token", "issue")["id"]
        refused = cloud.openstack("token", "issue", env={**env, "OS_PASSWORD": old}, check=False)
        assert refused.returncode != 0 and "401" in refused.stderr, refused.stderr
        # Restarted without it, the password stays the one given last.
        cloud.stop()
        cloud.start()
        assert cloud.rc_env()["OS_PASSWORD"] == "a-new-admin-password"
        assert cloud.openstack_json("token", "issue")["id"]
    finally:
        cloud.stop()


def test_no_token_or_password_reaches_the_log(tmp_path):
    cloud = Cloud(tmp_path / "data")
    cloud.start(env={"OXISTACK_LOG": "debug"})
    try:
        env = cloud.rc_env()
        issued = issue_token(cloud)
        cloud.openstack("server", "list")
        cloud.openstack("user", "create", "--password", "secret-of-the-user", "someone")
        r = requests.get(f"{cloud.url}/compute/v2.1/servers", headers={"X-Auth-Token": issued}, timeout=30)
        assert r.status_code == 200
        requests.get(f"{cloud.url}/compute/v2.1/servers", headers={"X-Auth-Token": issued + "x"}, timeout=30)
    finally:
        cloud.stop()
    log = cloud.log.read_text()
    assert "GET" in log or "compute" in log, "the debug log has the requests"
    for secret in (issued, issued[:40], env["OS_PASSWORD"], "secret-of-the-user"):
        assert secret not in log


# Image.

def upload(cloud, tmp_path, name, *args, data=b"\0" * 4096):
    f = tmp_path / f"{name}.raw"
    f.write_bytes(data)
    return cloud.openstack_json("image", "create", "--disk-format", "raw", "--container-format", "bare",
                                "--file", str(f), *args, name)["id"]


def test_deactivated_images_keep_their_data_from_everyone_but_admins(cloud, tmp_path):
    from test_role_matrix import Matrix

    m = Matrix(cloud)
    img = upload(cloud, tmp_path, "golden", "--public")
    cloud.openstack("image", "set", "--deactivate", img)
    assert cloud.openstack_json("image", "show", img)["status"] == "deactivated"
    assert m.get("member", f"/image/v2/images/{img}/file").status_code == 403
    assert m.get("admin", f"/image/v2/images/{img}/file").status_code == 200
    # A member may not reactivate a public image, an admin may.
    assert m.call("member", "POST", f"/image/v2/images/{img}/actions/reactivate").status_code == 403
    cloud.openstack("image", "set", "--activate", img)
    assert cloud.openstack_json("image", "show", img)["status"] == "active"
    got = m.get("member", f"/image/v2/images/{img}/file")
    assert got.status_code == 200 and got.content == b"\0" * 4096


def test_a_rejected_share_stays_out_of_the_list(cloud, tmp_path):
    from test_role_matrix import Matrix

    m = Matrix(cloud)
    img = m.made(m.call("member", "POST", "/image/v2/images", {"name": "shared", "visibility": "shared",
                                                               "disk_format": "raw", "container_format": "bare"}),
                 None)
    r = m.call("member", "POST", f"/image/v2/images/{img}/members", {"member": m.beta})
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    listed = lambda *q: [i["id"] for i in m.get("other", "/image/v2/images" + "".join(q)).json()["images"]]
    assert img not in listed()
    assert img in listed("?member_status=pending")
    r = m.call("other", "PUT", f"/image/v2/images/{img}/members/{m.beta}", {"status": "rejected"})
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    assert img not in listed() and img in listed("?member_status=rejected")
    # Still readable by id to the member that rejected it, as Glance.
    assert m.get("other", f"/image/v2/images/{img}").status_code == 200
    r = m.call("other", "PUT", f"/image/v2/images/{img}/members/{m.beta}", {"status": "accepted"})
    assert r.status_code == 200 and img in listed()


def test_image_list_filters(cloud, tmp_path):
    small = upload(cloud, tmp_path, "small", "--tag", "blue", data=b"x" * 1000)
    big = upload(cloud, tmp_path, "big", "--protected", data=b"y" * 5000)
    hidden = upload(cloud, tmp_path, "hidden", data=b"z" * 3000)
    r = requests.patch(f"{cloud.url}/image/v2/images/{hidden}", json=[{"op": "replace", "path": "/os_hidden",
                                                                       "value": True}],
                       headers={"X-Auth-Token": issue_token(cloud),
                                "Content-Type": "application/openstack-images-v2.1-json-patch"}, timeout=30)
    assert r.status_code == 200 and r.json()["os_hidden"] is True, r.text
    h = {"X-Auth-Token": issue_token(cloud)}
    qcow = requests.post(f"{cloud.url}/image/v2/images", headers=h, timeout=30, json={
        "name": "empty", "disk_format": "qcow2", "container_format": "bare", "visibility": "private"}).json()["id"]
    ids = lambda q: {i["id"] for i in requests.get(f"{cloud.url}/image/v2/images?{q}", headers=h,
                                                   timeout=30).json()["images"]}
    mine = {small, big, qcow}
    assert ids("name=small") == {small}
    assert ids("tag=blue") == {small}
    assert ids("size_min=2000") & mine == {big} and ids("size_min=2000&os_hidden=true") == {hidden}
    assert ids("size_max=2000") & mine == {small}
    assert ids("status=queued") == {qcow} and ids("disk_format=qcow2") == {qcow}
    assert ids("protected=true") == {big}
    assert ids("visibility=private") & mine == {qcow}
    assert hidden not in ids("") and ids("os_hidden=true") == {hidden}
    owner = cloud.openstack_json("project", "show", "admin")["id"]
    assert mine <= ids(f"owner={owner}") and ids("owner=nobody") == set()
    assert ids("container_format=bare") >= mine
    # The same through python-openstackclient.
    names = [i["Name"] for i in cloud.openstack_json("image", "list", "--tag", "blue")]
    assert names == ["small"]
    assert [i["Name"] for i in cloud.openstack_json("image", "list", "--status", "queued")] == ["empty"]


def test_image_dir_holds_the_data(tmp_path):
    store = tmp_path / "elsewhere"
    cloud = Cloud(tmp_path / "data").start("--image-dir", str(store))
    try:
        img = upload(cloud, tmp_path, "placed", data=b"placed-bytes" * 100)
        files = [p for p in store.rglob("*") if p.is_file()]
        assert [f.read_bytes() for f in files] == [b"placed-bytes" * 100], files
        assert not [p for p in (cloud.data_dir / "images").rglob("*") if p.is_file()]
        cloud.openstack("image", "delete", img)
        assert not [p for p in store.rglob("*") if p.is_file()]
    finally:
        cloud.stop()


# Compute (fake driver).

S = "/compute/v2.1/servers"


def wait_for(m, persona, sid, want, timeout=60):
    deadline = time.time() + timeout
    while (server := m.get(persona, f"{S}/{sid}").json()["server"])["status"] != want:
        assert time.time() < deadline, f"{sid} is {server['status']}, not {want}: {server.get('fault')}"
        time.sleep(0.2)
    return server


def act(m, persona, sid, body, version="2.37"):
    return m.call(persona, "POST", f"{S}/{sid}/action", body, {"OpenStack-API-Version": f"compute {version}"})


def test_change_password_and_shelve_offload(cloud):
    m = matrix_with_image(cloud)
    sid = m.server()
    assert act(m, "member", sid, {"changePassword": {"adminPass": "n3w-pass"}}).status_code == 202
    assert act(m, "member", sid, {"changePassword": {}}).status_code == 400
    assert act(m, "reader", sid, {"changePassword": {"adminPass": "x"}}).status_code == 403
    assert act(m, "other", sid, {"changePassword": {"adminPass": "x"}}).status_code == 404

    # Shelved, and offloaded at once (Nova's shelved_offload_time of 0): the
    # host keeps nothing, and offloading again is a conflict; unshelved, it runs.
    assert act(m, "member", sid, {"shelve": None}).status_code == 202
    server = wait_for(m, "admin", sid, "SHELVED_OFFLOADED")
    assert server["OS-EXT-SRV-ATTR:host"] is None, server
    assert act(m, "member", sid, {"shelveOffload": None}).status_code == 403, "offloading is an admin's"
    assert act(m, "admin", sid, {"shelveOffload": None}).status_code == 409
    assert act(m, "member", sid, {"unshelve": None}).status_code == 202
    server = wait_for(m, "admin", sid, "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"], server


def test_server_list_filters_paging_and_all_tenants(cloud):
    m = matrix_with_image(cloud)
    mine = [m.server() for _ in range(3)]
    tiny = m.call("member", "POST", S, {"server": {"name": "tiny", "imageRef": m.image_active, "flavorRef": "42",
                                                   "networks": "none"}}).json()["server"]["id"]
    wait_for(m, "member", tiny, "ACTIVE")
    theirs = m.call("other", "POST", S, {"server": {"name": "theirs", "imageRef": m.image_active,
                                                    "flavorRef": "1", "networks": "none"}}).json()["server"]["id"]
    wait_for(m, "other", theirs, "ACTIVE")
    ids = lambda persona, q="": [s["id"] for s in m.get(persona, f"{S}?{q}").json()["servers"]]

    assert ids("member", "flavor=42") == [tiny]
    assert set(ids("member", "flavor=1")) == set(mine)
    assert set(ids("member", f"image={m.image_active}")) == set(mine + [tiny])
    assert ids("member", "image=no-such-image") == []
    # Pages of two, in order, with the next page's link.
    first = m.get("member", f"{S}?limit=2").json()
    assert len(first["servers"]) == 2 and "marker=" in first["servers_links"][0]["href"]
    rest = ids("member", f"limit=2&marker={first['servers'][1]['id']}")
    assert [s["id"] for s in first["servers"]] + rest == ids("member")
    assert m.get("member", f"{S}?marker=no-such-server").status_code == 400

    # all_tenants: every project's servers for an admin, one's own for others.
    assert {theirs, tiny} <= set(ids("admin", "all_tenants=1"))
    assert theirs not in ids("admin")
    assert ids("member", "all_tenants=1") == ids("member") and theirs not in ids("member", "all_tenants=1")
    listed = cloud.openstack_json("server", "list", "--all-projects")
    assert {theirs, tiny} <= {s["ID"] for s in listed}


def test_usage_is_paged_from_2_40(cloud):
    m = matrix_with_image(cloud)
    for _ in range(3):
        m.server()
    h40 = {"OpenStack-API-Version": "compute 2.40"}
    start = "start=2000-01-01T00:00:00&end=2100-01-01T00:00:00"
    r = m.call("admin", "GET", f"/compute/v2.1/os-simple-tenant-usage/{m.alpha}?{start}&limit=2", headers=h40)
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["tenant_usage"]["server_usages"]) == 2 and page["tenant_usage_links"][0]["rel"] == "next"
    marker = page["tenant_usage"]["server_usages"][-1]["instance_id"]
    r = m.call("admin", "GET", f"/compute/v2.1/os-simple-tenant-usage/{m.alpha}?{start}&limit=2&marker={marker}",
               headers=h40)
    assert len(r.json()["tenant_usage"]["server_usages"]) == 1, r.text
    # Before 2.40 the whole usage comes at once.
    r = m.call("admin", "GET", f"/compute/v2.1/os-simple-tenant-usage/{m.alpha}?{start}&limit=2",
               headers={"OpenStack-API-Version": "compute 2.39"})
    assert len(r.json()["tenant_usage"]["server_usages"]) == 3, r.text


def test_anti_affinity_places_max_server_per_host(cloud):
    m = matrix_with_image(cloud)
    h64 = {"OpenStack-API-Version": "compute 2.64"}
    r = m.call("member", "POST", "/compute/v2.1/os-server-groups", {"server_group": {
        "name": "spread", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}}, h64)
    assert r.status_code == 200, r.text
    group = r.json()["server_group"]["id"]
    made = []
    for i in range(3):
        r = m.call("member", "POST", S, {"server": {"name": f"g{i}", "imageRef": m.image_active, "flavorRef": "42",
                                                    "networks": "none"},
                                         "os:scheduler_hints": {"group": group}})
        assert r.status_code == 202, r.text
        made.append(r.json()["server"]["id"])
        time.sleep(0.5)
    statuses = [wait_for(m, "member", made[0], "ACTIVE")["status"], wait_for(m, "member", made[1], "ACTIVE")["status"]]
    third = wait_for(m, "member", made[2], "ERROR")
    assert statuses == ["ACTIVE", "ACTIVE"] and "No valid host" in third["fault"]["message"], third


def test_auto_networks_allocate_or_ask_which(cloud):
    m = matrix_with_image(cloud)
    # alpha has no network of its own: `auto` gives it its auto-allocated topology.
    boot = lambda persona: m.call(persona, "POST", S, {"server": {"name": "a", "imageRef": m.image_active,
                                                                  "flavorRef": "42", "networks": "auto"}})
    r = boot("member")
    assert r.status_code == 202, r.text
    server = wait_for(m, "member", r.json()["server"]["id"], "ACTIVE")
    assert server["addresses"], server
    nets = [n for n in m.get("member", "/network/v2.0/networks").json()["networks"] if n["project_id"] == m.alpha]
    assert len(nets) == 1, nets
    # Two networks of its own and nothing shared to prefer: Nova asks which (409).
    for name in ("one", "two"):
        net = m.made(m.call("other", "POST", "/network/v2.0/networks", {"network": {"name": name}}), "network")
        m.made(m.call("other", "POST", "/network/v2.0/subnets", {"subnet": {
            "network_id": net, "cidr": f"10.{70 + len(name)}.0.0/24", "ip_version": 4}}), "subnet")
    r = boot("other")
    assert r.status_code == 409 and "Multiple possible networks found" in r.text, r.text


def test_remote_consoles_other_than_serial_answer_400(cloud):
    m = matrix_with_image(cloud)
    sid = m.server()
    r = m.call("member", "POST", f"{S}/{sid}/remote-consoles", {"remote_console": {"protocol": "vnc",
                                                                                   "type": "novnc"}},
               {"OpenStack-API-Version": "compute 2.6"})
    assert r.status_code == 400 and "badRequest" in r.text, r.text
    shown = cloud.openstack("console", "url", "show", "--novnc", sid, check=False)
    assert shown.returncode != 0 and "400" in shown.stderr, shown.stderr


def test_operations_cut_by_a_stop_are_reconciled_at_start(cloud):
    """A crash in the middle of operations, written into the database as it
    leaves it (the service stopped, the rows mid-task), is finished or failed
    at the next start."""
    m = matrix_with_image(cloud)
    rebooting, building = m.server(), m.server()
    cloud.stop()
    cloud.sql("UPDATE instances SET task_state = 'rebooting' WHERE id = ?", (rebooting,))
    cloud.sql("UPDATE instances SET vm_state = 'building', task_state = 'spawning', host = NULL, "
              "power_state = 0 WHERE id = ?", (building,))
    cloud.start()
    m.tokens = {p: cloud.openstack_json("token", "issue", rc=rc)["id"] for p, rc in m.rc.items()}
    # The driver shows the rebooted one running: the reboot is finished.
    server = m.get("member", f"{S}/{rebooting}").json()["server"]
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("ACTIVE", None), server
    # The build never reached the driver: ERROR, with the reason.
    server = m.get("member", f"{S}/{building}").json()["server"]
    assert server["status"] == "ERROR" and "interrupted by a restart" in server["fault"]["message"], server
    assert "reconciled an operation interrupted" in cloud.log.read_text()


# Network.

def test_subnet_dns_and_routes_ports_with_pairs_and_security_off(cloud):
    o = cloud.openstack_json
    o("network", "create", "n1")
    subnet = o("subnet", "create", "--network", "n1", "--subnet-range", "10.60.0.0/24", "--dns-nameserver",
               "192.0.2.53", "--host-route", "destination=198.51.100.0/24,gateway=10.60.0.254", "s1")
    assert subnet["dns_nameservers"] == ["192.0.2.53"], subnet
    assert subnet["host_routes"] == [{"destination": "198.51.100.0/24", "nexthop": "10.60.0.254"}], subnet
    port = o("port", "create", "--network", "n1", "--allowed-address", "ip-address=10.60.0.200", "p1")
    assert [p["ip_address"] for p in port["allowed_address_pairs"]] == ["10.60.0.200"], port
    assert port["allowed_address_pairs"][0]["mac_address"] == port["mac_address"]
    # Port security off needs the port's groups gone first, as Neutron.
    refused = cloud.openstack("port", "set", "--disable-port-security", "p1", check=False)
    assert refused.returncode != 0 and "Port has security group associated" in refused.stderr, refused.stderr
    cloud.openstack("port", "set", "--no-security-group", "--disable-port-security", "p1")
    shown = o("port", "show", "p1")
    assert shown["port_security_enabled"] is False and shown["security_group_ids"] == [], shown
    # And a network made with port security off gives ports without groups.
    o("network", "create", "--disable-port-security", "n2")
    o("subnet", "create", "--network", "n2", "--subnet-range", "10.61.0.0/24", "s2")
    bare = o("port", "create", "--network", "n2", "p2")
    assert bare["port_security_enabled"] is False and bare["security_group_ids"] == [], bare


def test_router_routes_tags_and_over_quota(cloud):
    from test_role_matrix import Matrix

    o = cloud.openstack_json
    o("router", "create", "r1")
    o("network", "create", "n1")
    o("subnet", "create", "--network", "n1", "--subnet-range", "10.62.0.0/24", "s1")
    cloud.openstack("router", "add", "subnet", "r1", "s1")
    cloud.openstack("router", "set", "--route", "destination=203.0.113.0/24,gateway=10.62.0.9", "r1")
    assert o("router", "show", "r1")["routes"] == [{"destination": "203.0.113.0/24", "nexthop": "10.62.0.9"}]
    bad = cloud.openstack("router", "set", "--route", "destination=203.0.114.0/24,gateway=10.99.0.9", "r1",
                          check=False)
    assert bad.returncode != 0 and "400" in bad.stderr, bad.stderr

    # Tags, and the four tag filters.
    cloud.openstack("network", "set", "--tag", "red", "--tag", "blue", "n1")
    o("network", "create", "--tag", "red", "n2")
    names = lambda *a: sorted(n["Name"] for n in o("network", "list", *a))
    assert names("--tags", "red,blue") == ["n1"]
    assert names("--any-tags", "blue,red") == ["n1", "n2"]
    assert "n1" not in names("--not-tags", "blue") and "n2" in names("--not-tags", "blue")
    assert names("--not-any-tags", "red,blue") == sorted(set(names()) - {"n1", "n2"})

    # Quotas are enforced with Neutron's OverQuota.
    m = Matrix(cloud)
    r = m.call("admin", "PUT", f"/network/v2.0/quotas/{m.alpha}", {"quota": {"network": 1}})
    assert r.status_code == 200, r.text
    assert m.call("member", "POST", "/network/v2.0/networks", {"network": {"name": "a"}}).status_code == 201
    r = m.call("member", "POST", "/network/v2.0/networks", {"network": {"name": "b"}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "OverQuota", r.text


def test_use_default_subnetpool(cloud):
    o = cloud.openstack_json
    o("subnet", "pool", "create", "--pool-prefix", "10.210.0.0/16", "--default-prefix-length", "25", "--default",
      "dflt")
    o("network", "create", "n")
    r = requests.post(f"{cloud.url}/network/v2.0/subnets", headers={"X-Auth-Token": issue_token(cloud)}, json={
        "subnet": {"network_id": o("network", "show", "n")["id"], "ip_version": 4, "use_default_subnetpool": True}},
        timeout=30)
    assert r.status_code == 201, r.text
    made = r.json()["subnet"]
    assert made["cidr"] == "10.210.0.0/25" and made["subnetpool_id"] == o("subnet", "pool", "show", "dflt")["id"]
    # python-openstackclient's way of asking for it.
    second = o("subnet", "create", "--network", "n", "--use-default-subnet-pool", "s2")
    assert second["cidr"] == "10.210.0.128/25", second


# The native `nova`.

def native(cloud, *args, env=None):
    return run(cloud, NATIVE, *args, env=env)


def test_native_nova_power_actions_console_and_keypair_delete(cloud, tmp_path):
    from test_compute import image_id, table_rows

    image = image_id(cloud, tmp_path)
    assert native(cloud, "boot", "--flavor", "1", "--image", image, "--nic", "none", "vm", "--poll").returncode == 0
    status = lambda: next(r[2] for r in table_rows(native(cloud, "list").stdout) if r[1] == "vm")

    def settle(want):
        deadline = time.time() + 30
        while (got := status()) != want:
            assert time.time() < deadline, f"vm is {got}, not {want}"
            time.sleep(0.2)

    for command, want in (("stop", "SHUTOFF"), ("start", "ACTIVE"), ("pause", "PAUSED"), ("unpause", "ACTIVE"),
                          ("suspend", "SUSPENDED"), ("resume", "ACTIVE")):
        done = native(cloud, command, "vm")
        assert done.returncode == 0 and done.stderr == "", (command, done.stderr)
        settle(want)
    refused = native(cloud, "resume", "vm")
    assert refused.returncode == 1 and "ERROR (Conflict)" in refused.stderr, refused.stderr

    log = native(cloud, "console-log", "vm")
    assert log.returncode == 0 and log.stdout.strip(), log.stderr
    # (The serial console of a real guest: test_qemu's walk-through.)

    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    assert native(cloud, "keypair-add", "--pub-key", f"{key}.pub", "k1").returncode == 0
    assert native(cloud, "keypair-delete", "k1").returncode == 0
    assert table_rows(native(cloud, "keypair-list").stdout) == []
    gone = native(cloud, "keypair-delete", "k1")
    assert gone.returncode == 1 and "ERROR (NotFound)" in gone.stderr, gone.stderr


def test_native_nova_timings_and_every_way_to_authenticate(cloud):
    env = cloud.rc_env()
    timed = native(cloud, "--timings", "list")
    assert timed.returncode == 0, timed.stderr
    assert "GET" in timed.stdout and "/servers/detail" in timed.stdout and "Total" in timed.stdout, timed.stdout

    # A token and the compute URL, no password.
    token = cloud.openstack_json("token", "issue")["id"]
    compute = next(e["URL"] for e in cloud.openstack_json("endpoint", "list", "--service", "compute")
                   if e["Interface"] == "public")
    bare = {k: v for k, v in env.items() if not k.startswith("OS_")}
    by_token = native(cloud, "flavor-list", env={**bare, "OS_TOKEN": token, "OS_URL": compute})
    assert by_token.returncode == 0 and "m1.tiny" in by_token.stdout, by_token.stderr
    forged = native(cloud, "flavor-list", env={**bare, "OS_TOKEN": token + "x", "OS_URL": compute})
    assert forged.returncode == 1 and "ERROR (Unauthorized)" in forged.stderr, forged.stderr

    # A Keystone v2.0 era RC file.
    v2 = {**bare, "OS_AUTH_URL": f"{cloud.url}/identity/v2.0", "OS_USERNAME": env["OS_USERNAME"],
          "OS_PASSWORD": env["OS_PASSWORD"], "OS_TENANT_NAME": "admin"}
    old = native(cloud, "flavor-list", env=v2)
    assert old.returncode == 0 and "m1.tiny" in old.stdout, old.stderr

    # An application credential.
    cred = {k.lower(): v for k, v in cloud.openstack_json("application", "credential", "create", "nova-cli").items()}
    app = {**bare, "OS_AUTH_URL": env["OS_AUTH_URL"], "OS_AUTH_TYPE": "v3applicationcredential",
           "OS_APPLICATION_CREDENTIAL_ID": cred["id"], "OS_APPLICATION_CREDENTIAL_SECRET": cred["secret"]}
    by_cred = native(cloud, "flavor-list", env=app)
    assert by_cred.returncode == 0 and "m1.tiny" in by_cred.stdout, by_cred.stderr

    # The rest of the environment: region, interface, ids instead of names.
    project = cloud.openstack_json("project", "show", "admin")["id"]
    user = cloud.openstack_json("user", "show", "admin")["id"]
    ids = {**bare, "OS_AUTH_URL": env["OS_AUTH_URL"], "OS_USER_ID": user, "OS_PASSWORD": env["OS_PASSWORD"],
           "OS_PROJECT_ID": project, "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "public"}
    assert native(cloud, "flavor-list", env=ids).returncode == 0
    nowhere = native(cloud, "flavor-list", env={**ids, "OS_REGION_NAME": "Atlantis"})
    assert nowhere.returncode == 1 and "ERROR (EndpointNotFound)" in nowhere.stderr, nowhere.stderr
    flags = native(cloud, "--os-region-name", "RegionOne", "--os-project-id", project, "flavor-list", env={
        **bare, "OS_AUTH_URL": env["OS_AUTH_URL"], "OS_USER_ID": user, "OS_PASSWORD": env["OS_PASSWORD"]})
    assert flags.returncode == 0 and "m1.tiny" in flags.stdout, flags.stderr
