"""Behaviours where an OpenStack client expects upstream's exact answer,
against a freshly started `oxistack serve`: each test does what a client
does and checks what Keystone, Nova, Glance or Neutron answer."""

import time

import requests

from test_role_matrix import Matrix

N = "/network/v2.0"
S = "/compute/v2.1/servers"


def admin_headers(cloud, **extra):
    return {"X-Auth-Token": cloud.openstack_json("token", "issue")["id"], **extra}


# Identity.

def test_an_explicitly_unscoped_token_then_a_rescope(cloud):
    url = f"{cloud.url}/identity/v3"
    env = cloud.rc_env()
    password = {"user": {"name": "admin", "domain": {"id": "default"}, "password": env["OS_PASSWORD"]}}
    r = requests.post(f"{url}/auth/tokens", json={"auth": {"identity": {"methods": ["password"], "password": password},
                                                           "scope": "unscoped"}})
    assert r.status_code == 201, r.text
    body = r.json()["token"]
    assert "project" not in body and "catalog" not in body and "roles" not in body, body
    unscoped = r.headers["X-Subject-Token"]
    projects = requests.get(f"{url}/auth/projects", headers={"X-Auth-Token": unscoped}).json()["projects"]
    admin_project = next(p for p in projects if p["name"] == "admin")
    r = requests.post(f"{url}/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped}},
        "scope": {"project": {"id": admin_project["id"]}}}})
    assert r.status_code == 201 and r.json()["token"]["project"]["id"] == admin_project["id"], r.text


def test_application_credential_expiry_is_answered_as_sent(cloud):
    h = admin_headers(cloud)
    uid = cloud.openstack_json("user", "show", "admin")["id"]
    for sent in ["2099-01-02T03:04:05+00:00", "2099-01-02T03:04:05.000000", "2099-01-02T05:04:05+02:00"]:
        r = requests.post(f"{cloud.url}/identity/v3/users/{uid}/application_credentials", headers=h,
                          json={"application_credential": {"name": f"c{time.monotonic_ns()}", "expires_at": sent}})
        assert r.status_code == 201 and r.json()["application_credential"]["expires_at"] == sent, r.text
    r = requests.post(f"{cloud.url}/identity/v3/users/{uid}/application_credentials", headers=h,
                      json={"application_credential": {"name": "bad", "expires_at": "tomorrow"}})
    assert r.status_code == 400, r.text


def test_a_changed_password_logs_in_at_once(cloud):
    cloud.openstack("user", "create", "--password", "old-password", "erin")
    uid = cloud.openstack_json("user", "show", "erin")["id"]
    url = f"{cloud.url}/identity/v3"
    for i in range(3):
        old, new = ("old-password", "new-password-0") if i == 0 else (f"new-password-{i - 1}", f"new-password-{i}")
        r = requests.post(f"{url}/users/{uid}/password",
                          json={"user": {"original_password": old, "password": new}})
        assert r.status_code == 204, r.text
        r = requests.post(f"{url}/auth/tokens", json={"auth": {"identity": {"methods": ["password"],
                          "password": {"user": {"id": uid, "password": new}}}}})
        assert r.status_code == 201, r.text
        token = r.headers["X-Subject-Token"]
        assert requests.get(f"{url}/auth/tokens", headers={"X-Auth-Token": token,
                                                          "X-Subject-Token": token}).status_code == 200


# Compute.

def test_the_versions_document_lists_v2_0_then_v2_1(cloud):
    versions = requests.get(f"{cloud.url}/compute/").json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0", "v2.1"], versions
    assert versions[0]["status"] == "DEPRECATED" and versions[1]["status"] == "CURRENT"
    assert set(versions[0]) == {"id", "links", "status", "version", "min_version", "updated"}


def raw_image(cloud, h):
    """A small raw image, active."""
    img = requests.post(f"{cloud.url}/image/v2/images", headers=h,
                        json={"name": "b", "disk_format": "raw", "container_format": "bare"}).json()["id"]
    r = requests.put(f"{cloud.url}/image/v2/images/{img}/file", data=b"\0" * 4096,
                     headers={**h, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    return img


def active(cloud, h, sid):
    """The server once it is ACTIVE (within 30 s)."""
    deadline = time.time() + 30
    while (shown := requests.get(f"{cloud.url}{S}/{sid}", headers=h).json()["server"])["status"] != "ACTIVE":
        assert time.time() < deadline
        time.sleep(0.2)
    return shown


def boot(cloud, h):
    img = raw_image(cloud, h)
    r = requests.post(f"{cloud.url}{S}", headers={**h, "OpenStack-API-Version": "compute 2.37"},
                      json={"server": {"name": "s", "imageRef": img, "flavorRef": "1", "networks": "none"}})
    sid = r.json()["server"]["id"]
    active(cloud, h, sid)
    return sid, img


def test_server_tags_names_and_metadata_as_nova(cloud):
    h = admin_headers(cloud, **{"OpenStack-API-Version": "compute 2.26"})
    sid, img = boot(cloud, h)
    r = requests.put(f"{cloud.url}{S}/{sid}/tags/blue", headers=h)
    assert r.status_code == 201 and r.headers["Location"].endswith(f"/servers/{sid}/tags/blue"), r.headers
    assert requests.put(f"{cloud.url}{S}/{sid}/tags/blue", headers=h).status_code == 204
    assert requests.delete(f"{cloud.url}{S}/{sid}/tags/blue", headers=h).status_code == 204
    assert requests.get(f"{cloud.url}{S}/{sid}/tags", headers=h).json()["tags"] == []
    long = "x" * 256
    r = requests.put(f"{cloud.url}{S}/{sid}", headers=h, json={"server": {"name": long}})
    assert r.status_code == 400 and "badRequest" in r.text, r.text
    r = requests.post(f"{cloud.url}{S}/{sid}/action", headers=h, json={"rebuild": {"imageRef": img, "name": long}})
    assert r.status_code == 400 and "badRequest" in r.text, r.text
    for meta in [{long: "v"}, {"k": long}]:
        r = requests.post(f"{cloud.url}{S}/{sid}/metadata", headers=h, json={"metadata": meta})
        assert r.status_code == 400, r.text
    assert requests.put(f"{cloud.url}{S}/{sid}", headers=h, json={"server": {"name": "y" * 255}}).status_code == 200


# Image.

def test_image_patches_in_the_v2_0_media_type_and_empty_ids(cloud):
    h = admin_headers(cloud)
    base = f"{cloud.url}/image/v2/images"
    iid = requests.post(base, headers=h, json={"name": "a", "disk_format": "raw",
                                                "container_format": "bare"}).json()["id"]
    r = requests.patch(f"{base}/{iid}", headers={**h, "Content-Type": "application/openstack-images-v2.0-json-patch"},
                       json=[{"replace": "/name", "value": "renamed"}, {"add": "/color", "value": "red"}])
    assert r.status_code == 200 and r.json()["name"] == "renamed" and r.json()["color"] == "red", r.text
    assert requests.get(f"{base}/", headers=h).status_code == 404
    assert requests.delete(f"{base}/", headers=h).status_code == 404
    assert requests.get(base, headers=h).status_code == 200
    assert requests.get(f"{cloud.url}/image/", headers=h).status_code in (200, 300)


# Network.

def test_routers_without_a_gateway_and_rule_ports_as_neutron(cloud):
    h = admin_headers(cloud)
    r = requests.post(f"{cloud.url}{N}/routers", headers=h, json={"router": {"name": "r", "external_gateway_info": {}}})
    assert r.status_code == 201 and r.json()["router"]["external_gateway_info"] is None, r.text
    rid = r.json()["router"]["id"]
    r = requests.put(f"{cloud.url}{N}/routers/{rid}", headers=h, json={"router": {"external_gateway_info": {}}})
    assert r.status_code == 200 and r.json()["router"]["external_gateway_info"] is None, r.text

    sg = requests.post(f"{cloud.url}{N}/security-groups", headers=h,
                       json={"security_group": {"name": "p"}}).json()["security_group"]["id"]
    for lo, hi, kind, message in [(-16, 22, "SecurityGroupInvalidPortValue", "Invalid value for port -16"),
                                  (22, 70000, "SecurityGroupInvalidPortValue", "Invalid value for port 70000"),
                                  (0, 22, "SecurityGroupInvalidPortValue", "Invalid value for port 0"),
                                  (30, 22, "SecurityGroupInvalidPortRange",
                                   "For TCP/UDP protocols, port_range_min must be <= port_range_max")]:
        r = requests.post(f"{cloud.url}{N}/security-group-rules", headers=h, json={"security_group_rule": {
            "security_group_id": sg, "direction": "ingress", "protocol": "tcp",
            "port_range_min": lo, "port_range_max": hi}})
        assert r.status_code == 400, r.text
        assert r.json()["NeutronError"]["type"] == kind and r.json()["NeutronError"]["message"] == message, r.text


def test_external_subnets_stay_hidden_and_quota_set_checks_limits(cloud):
    m = Matrix(cloud)
    public = m.get("member", f"{N}/networks/{m.public}").json()["network"]
    assert public["router:external"] and public["subnets"], public
    assert m.get("member", f"{N}/subnets").json()["subnets"] == []
    assert m.get("member", f"{N}/subnets/{public['subnets'][0]}").status_code == 404
    assert m.get("admin", f"{N}/subnets/{public['subnets'][0]}").status_code == 200

    # python-openstackclient sends check_limit with every network quota it sets.
    res = cloud.openstack("quota", "set", "--ports", "77", "--networks", "9", "alpha")
    assert res.returncode == 0, res.stderr
    q = m.get("admin", f"{N}/quotas/{m.alpha}").json()["quota"]
    assert q["port"] == 77 and q["network"] == 9, q
    m.network()
    m.network()
    r = m.call("admin", "PUT", f"{N}/quotas/{m.alpha}", {"quota": {"network": 1, "check_limit": True}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "InvalidQuotaValue", r.text
    assert m.call("admin", "PUT", f"{N}/quotas/{m.alpha}", {"quota": {"network": 1}}).status_code == 200


def test_the_image_proxy_deletes_snapshots_and_keeps_their_metadata(cloud):
    """Below 2.36 Nova proxies images: a createImage snapshot is deleted through
    it, and its metadata read and written, as novaclient's image commands did."""
    h = admin_headers(cloud, **{"OpenStack-API-Version": "compute 2.35"})
    sid, _ = boot(cloud, h)
    r = requests.post(f"{cloud.url}{S}/{sid}/action", headers=h, json={"createImage": {"name": "snap"}})
    assert r.status_code == 202, r.text
    snap = r.headers["Location"].rsplit("/", 1)[-1]
    deadline = time.time() + 30
    while requests.get(f"{cloud.url}/compute/v2.1/images/{snap}", headers=h).json()["image"]["status"] != "ACTIVE":
        assert time.time() < deadline
        time.sleep(0.3)
    md = f"{cloud.url}/compute/v2.1/images/{snap}/metadata"
    r = requests.post(md, headers=h, json={"metadata": {"os_distro": "cirros", "color": "red"}})
    assert r.status_code == 200 and r.json()["metadata"]["color"] == "red", r.text
    r = requests.put(f"{md}/color", headers=h, json={"meta": {"color": "blue"}})
    assert r.status_code == 200 and r.json() == {"meta": {"color": "blue"}}, r.text
    assert requests.get(f"{md}/color", headers=h).json() == {"meta": {"color": "blue"}}
    assert requests.delete(f"{md}/color", headers=h).status_code == 204
    assert requests.get(f"{md}/color", headers=h).status_code == 404
    r = requests.put(md, headers=h, json={"metadata": {"only": "this"}})
    assert r.status_code == 200 and "os_distro" not in r.json()["metadata"], r.text
    assert requests.delete(f"{cloud.url}/compute/v2.1/images/{snap}", headers=h).status_code == 204
    assert requests.get(f"{cloud.url}/compute/v2.1/images/{snap}", headers=h).status_code == 404
    assert requests.get(f"{cloud.url}/image/v2/images/{snap}", headers=h).status_code == 404
    h36 = {**h, "OpenStack-API-Version": "compute 2.36"}
    assert requests.delete(f"{cloud.url}/compute/v2.1/images/{snap}", headers=h36).status_code == 404


def test_admin_pass_access_ips_and_the_bodies_of_update_and_rebuild(cloud):
    h = admin_headers(cloud)
    img = raw_image(cloud, h)
    private = requests.get(f"{cloud.url}{N}/networks?name=private", headers=h).json()["networks"][0]["id"]
    server = {"name": "a", "imageRef": img, "flavorRef": "1", "networks": [{"uuid": private}],
              "adminPass": "given-password", "accessIPv4": "192.0.2.10", "accessIPv6": "2001:db8::1"}
    for bad_ip in [{"accessIPv6": "2001:db8::zz"}, {"accessIPv4": "300.1.1.1"}, {"accessIPv4": "2001:db8::1"}]:
        r = requests.post(f"{cloud.url}{S}", headers=h, json={"server": {**server, **bad_ip}})
        assert r.status_code == 400 and "badRequest" in r.text, r.text
    r = requests.post(f"{cloud.url}{S}", headers=h, json={"server": server})
    assert r.status_code == 202 and r.json()["server"]["adminPass"] == "given-password", r.text
    sid = r.json()["server"]["id"]
    shown = active(cloud, h, sid)
    assert shown["accessIPv4"] == "192.0.2.10" and shown["accessIPv6"] == "2001:db8::1", shown
    fixed = shown["addresses"]["private"][0]["addr"]

    # Filters: access addresses exactly (admins), fixed addresses by pattern.
    ids = lambda q: [s["id"] for s in requests.get(f"{cloud.url}{S}?{q}", headers=h).json()["servers"]]
    assert ids("access_ip_v4=192.0.2.10") == [sid] and ids("access_ip_v4=192.0.2.11") == []
    assert ids("access_ip_v6=2001:db8::1") == [sid]
    assert sid in ids(f"ip={fixed.replace('.', '[.]')}") and ids("ip=^172[.]") == []

    # Update: the address changes, the body is Nova's update schema below 2.75.
    r = requests.put(f"{cloud.url}{S}/{sid}", headers=h, json={"server": {"accessIPv4": "198.51.100.7"}})
    assert r.status_code == 200 and r.json()["server"]["accessIPv4"] == "198.51.100.7", r.text
    assert not [k for k in r.json()["server"] if k.startswith("OS-EXT-")] and "security_groups" not in r.json()["server"]
    r = requests.put(f"{cloud.url}{S}/{sid}", headers=h, json={"server": {"accessIPv6": "nope"}})
    assert r.status_code == 400, r.text
    h75 = {**h, "OpenStack-API-Version": "compute 2.75"}
    r = requests.put(f"{cloud.url}{S}/{sid}", headers=h75, json={"server": {"name": "b"}})
    assert "OS-EXT-STS:vm_state" in r.json()["server"], r.text

    r = requests.post(f"{cloud.url}{S}/{sid}/action", headers=h,
                      json={"rebuild": {"imageRef": img, "adminPass": "rebuilt-password"}})
    assert r.status_code == 202, r.text
    body = r.json()["server"]
    assert body["adminPass"] == "rebuilt-password" and not [k for k in body if k.startswith("OS-EXT-")], body


def test_subnet_updates_store_every_field(cloud):
    h = admin_headers(cloud)
    net = requests.post(f"{cloud.url}{N}/networks", headers=h, json={"network": {"name": "u"}}).json()["network"]["id"]
    sub = requests.post(f"{cloud.url}{N}/subnets", headers=h, json={"subnet": {
        "network_id": net, "cidr": "10.77.0.0/24", "ip_version": 4,
        "allocation_pools": [{"start": "10.77.0.10", "end": "10.77.0.100"}]}}).json()["subnet"]["id"]
    change = {"gateway_ip": "10.77.0.254", "dns_nameservers": ["192.0.2.53"], "enable_dhcp": False,
              "host_routes": [{"destination": "198.51.100.0/24", "nexthop": "10.77.0.254"}]}
    r = requests.put(f"{cloud.url}{N}/subnets/{sub}", headers=h, json={"subnet": change})
    assert r.status_code == 200, r.text
    for answered in [r.json()["subnet"], requests.get(f"{cloud.url}{N}/subnets/{sub}", headers=h).json()["subnet"]]:
        assert {k: answered[k] for k in change} == change, answered
    r = requests.put(f"{cloud.url}{N}/subnets/{sub}", headers=h, json={"subnet": {"gateway_ip": "10.77.0.50"}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "GatewayConflictWithAllocationPools", r.text
    r = requests.put(f"{cloud.url}{N}/subnets/{sub}", headers=h, json={"subnet": {"gateway_ip": "10.78.0.1"}})
    assert r.status_code == 400, r.text
    r = requests.put(f"{cloud.url}{N}/subnets/{sub}", headers=h, json={"subnet": {"gateway_ip": None}})
    assert r.status_code == 200 and r.json()["subnet"]["gateway_ip"] is None, r.text


def test_novas_security_group_proxy_below_2_36_and_a_servers_groups(cloud):
    h = admin_headers(cloud)  # 2.1: no microversion header
    base = f"{cloud.url}/compute/v2.1"
    r = requests.post(f"{base}/os-security-groups", headers=h,
                      json={"security_group": {"name": "web", "description": "web servers"}})
    assert r.status_code == 200, r.text
    sg = r.json()["security_group"]
    assert set(sg) == {"id", "name", "description", "tenant_id", "rules"} and sg["rules"] == []
    r = requests.post(f"{base}/os-security-group-rules", headers=h, json={"security_group_rule": {
        "parent_group_id": sg["id"], "ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/24"}})
    assert r.status_code == 200, r.text
    rule = r.json()["security_group_rule"]
    assert rule["ip_range"] == {"cidr": "10.0.0.0/24"} and rule["group"] == {} and rule["from_port"] == 22, rule
    shown = requests.get(f"{base}/os-security-groups/{sg['id']}", headers=h).json()["security_group"]
    assert [r["id"] for r in shown["rules"]] == [rule["id"]]
    assert sg["id"] in [g["id"] for g in requests.get(f"{base}/os-security-groups", headers=h).json()["security_groups"]]
    r = requests.put(f"{base}/os-security-groups/{sg['id']}", headers=h,
                     json={"security_group": {"name": "web2", "description": "d"}})
    assert r.status_code == 200 and r.json()["security_group"]["name"] == "web2", r.text

    # A server's groups, and the actions, with the real client.
    img = raw_image(cloud, h)
    cloud.openstack("server", "create", "--flavor", "1", "--image", img, "--network", "private", "--wait", "sgvm")
    sid = cloud.openstack_json("server", "show", "sgvm")["id"]
    names = lambda: [g["name"] for g in requests.get(f"{base}/servers/{sid}/os-security-groups",
                                                      headers=h).json()["security_groups"]]
    assert names() == ["default"]
    cloud.openstack("server", "add", "security", "group", "sgvm", "web2")
    assert sorted(names()) == ["default", "web2"]
    r = requests.post(f"{base}/servers/{sid}/action", headers=h, json={"addSecurityGroup": {"name": "web2"}})
    assert r.status_code == 400, r.text
    cloud.openstack("server", "remove", "security", "group", "sgvm", "web2")
    assert names() == ["default"]

    default = next(g for g in requests.get(f"{base}/os-security-groups", headers=h).json()["security_groups"]
                   if g["name"] == "default")
    r = requests.delete(f"{base}/os-security-groups/{default['id']}", headers=h)
    assert r.status_code == 400 and "badRequest" in r.text, r.text
    assert requests.delete(f"{base}/os-security-group-rules/{rule['id']}", headers=h).status_code == 202
    assert requests.delete(f"{base}/os-security-groups/{sg['id']}", headers=h).status_code == 202
    h36 = {**h, "OpenStack-API-Version": "compute 2.36"}
    assert requests.get(f"{base}/os-security-groups", headers=h36).status_code == 404


def test_ipv6_addresses_as_neutron_assigns_them(cloud):
    h = admin_headers(cloud)
    net = requests.post(f"{cloud.url}{N}/networks", headers=h, json={"network": {"name": "v6"}}).json()["network"]["id"]

    def subnet(cidr, **modes):
        return requests.post(f"{cloud.url}{N}/subnets", headers=h, json={"subnet": {
            "network_id": net, "cidr": cidr, "ip_version": 6, **modes}})

    for bad in [{"ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"}, {"ipv6_address_mode": "eui"}]:
        r = subnet("2001:db8:1::/64", **bad)
        assert r.status_code == 400, r.text
    assert subnet("2001:db8:9::/80", ipv6_address_mode="slaac").status_code == 400
    slaac = subnet("2001:db8:1::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac").json()["subnet"]["id"]
    stateless = subnet("2001:db8:2::/64", ipv6_address_mode="dhcpv6-stateless").json()["subnet"]["id"]
    stateful = subnet("2001:db8:3::/64", ipv6_address_mode="dhcpv6-stateful").json()["subnet"]["id"]
    r = requests.post(f"{cloud.url}{N}/ports", headers=h,
                      json={"port": {"network_id": net, "mac_address": "fa:16:3e:11:22:33"}})
    assert r.status_code == 201, r.text
    ips = {f["subnet_id"]: f["ip_address"] for f in r.json()["port"]["fixed_ips"]}
    assert ips[slaac] == "2001:db8:1:0:f816:3eff:fe11:2233", ips
    assert ips[stateless] == "2001:db8:2:0:f816:3eff:fe11:2233", ips
    assert ips[stateful].startswith("2001:db8:3::") and len(ips) == 3, ips
    r = requests.post(f"{cloud.url}{N}/ports", headers=h, json={"port": {
        "network_id": net, "fixed_ips": [{"subnet_id": slaac, "ip_address": "2001:db8:1::5"}]}})
    assert r.status_code == 400 and "automatic addresses" in r.text, r.text

    # A server on that network shows its IPv6 addresses, and `ip6` finds it
    # by them (python-openstackclient's `server list --ip6`).
    v4 = requests.post(f"{cloud.url}{N}/subnets", headers=h, json={"subnet": {
        "network_id": net, "cidr": "10.66.0.0/24", "ip_version": 4}})
    assert v4.status_code == 201, v4.text
    img = raw_image(cloud, h)
    r = requests.post(f"{cloud.url}{S}", headers=h, json={"server": {
        "name": "dual", "imageRef": img, "flavorRef": "1", "networks": [{"uuid": net}]}})
    sid = r.json()["server"]["id"]
    shown = active(cloud, h, sid)
    addresses = {(a["version"], a["addr"]) for a in shown["addresses"]["v6"]}
    assert (6, next(a for v, a in addresses if a.startswith("2001:db8:1:"))) in addresses
    assert sorted(v for v, _ in addresses) == [4, 6, 6, 6], addresses
    listed = lambda *a: [s["ID"] for s in cloud.openstack_json("server", "list", *a)]
    assert listed("--ip6", "2001:db8:1:0:f816") == [sid]
    assert listed("--ip6", "2001:db8:7") == []
    assert listed("--ip", "^10[.]66[.]") == [sid]
