"""Network (Neutron v2.0) with the real python-openstackclient and openstacksdk,
against a freshly started `oxistack serve` (fake compute driver)."""

import concurrent.futures
import ipaddress

import openstack
import requests
import pytest

from test_compute import nova, table_rows, wait_status


def sdk(cloud):
    env = cloud.rc_env()
    return openstack.connect(
        auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"], password=env["OS_PASSWORD"],
        project_name=env["OS_PROJECT_NAME"], user_domain_name=env["OS_USER_DOMAIN_NAME"],
        project_domain_id=env["OS_PROJECT_DOMAIN_ID"], region_name=env["OS_REGION_NAME"],
    )


def test_bootstrap_gives_devstacks_topology(cloud):
    nets = {n["Name"]: n for n in cloud.openstack_json("network", "list")}
    assert set(nets) == {"public", "private"}
    public = cloud.openstack_json("network", "show", "public")
    assert public["router:external"] is True
    subnet = cloud.openstack_json("subnet", "show", "private-subnet")
    assert subnet["cidr"] == "10.0.0.0/24" and subnet["gateway_ip"] == "10.0.0.1"
    public_subnet = cloud.openstack_json("subnet", "show", "public-subnet")
    assert ipaddress.ip_network(public_subnet["cidr"]).subnet_of(ipaddress.ip_network("127.0.0.0/8"))
    router = cloud.openstack_json("router", "show", "router1")
    assert router["external_gateway_info"]["network_id"] == public["id"]
    # The default security group: Neutron's four rules, and SSH and ping
    # for the admin project, as DevStack guides add them.
    groups = cloud.openstack_json("security", "group", "list")
    assert [g["Name"] for g in groups] == ["default"]
    rules = cloud.openstack_json("security", "group", "rule", "list", "default")
    assert sorted((r["Direction"], r["Ethertype"], r["IP Protocol"] or "any", r["Port Range"]) for r in rules) == [
        ("egress", "IPv4", "any", ""), ("egress", "IPv6", "any", ""),
        ("ingress", "IPv4", "any", ""), ("ingress", "IPv4", "icmp", ""), ("ingress", "IPv4", "tcp", "22:22"),
        ("ingress", "IPv6", "any", "")]


def test_networks_subnets_routers_and_floating_ips_with_a_server(cloud):
    net = cloud.openstack_json("network", "create", "barnet")
    subnet = cloud.openstack_json("subnet", "create", "--network", "barnet", "--subnet-range", "10.77.0.0/24", "barsub")
    assert subnet["allocation_pools"] == [{"start": "10.77.0.2", "end": "10.77.0.254"}]
    overlap = cloud.openstack("subnet", "create", "--network", "barnet", "--subnet-range", "10.77.0.128/25", "bad",
                              check=False)
    assert overlap.returncode != 0 and "overlaps with another subnet" in overlap.stderr
    cloud.openstack("security", "group", "create", "barsg")
    rule = cloud.openstack_json("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "barsg")
    assert (rule["port_range_min"], rule["port_range_max"], rule["protocol"]) == (22, 22, "tcp")
    dup = cloud.openstack("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "barsg",
                          check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    cloud.openstack("router", "create", "barrouter")
    cloud.openstack("router", "add", "subnet", "barrouter", "barsub")
    router_ports = cloud.openstack_json("port", "list", "--router", "barrouter")
    assert [p["Fixed IP Addresses"][0]["ip_address"] for p in router_ports] == ["10.77.0.1"]

    image = cloud.openstack_json("image", "create", "--disk-format", "raw", "--container-format", "bare", "img")["id"]
    cloud.openstack("server", "create", "--flavor", "1", "--image", image, "--network", "barnet",
                    "--security-group", "barsg", "--wait", "barvm")
    server = cloud.openstack_json("server", "show", "barvm")
    fixed = server["addresses"]["barnet"][0]
    assert ipaddress.ip_address(fixed) in ipaddress.ip_network("10.77.0.0/24")
    assert [g["name"] for g in server["security_groups"]] == ["barsg"]
    ports = cloud.openstack_json("port", "list", "--server", "barvm")
    assert len(ports) == 1 and ports[0]["Fixed IP Addresses"][0]["ip_address"] == fixed
    port = cloud.openstack_json("port", "show", ports[0]["ID"])
    assert port["device_owner"] == "compute:nova" and port["binding_host_id"] == "oxistack"

    # os-interface: a second port plugged and unplugged with python-novaclient.
    nova(cloud, "interface-attach", "--net-id", net["id"], "barvm")
    attached = table_rows(nova(cloud, "interface-list", "barvm").stdout)
    assert len(attached) == 2 and {r[2] for r in attached} == {net["id"]}
    extra = next(r[1] for r in attached if r[1] != ports[0]["ID"])
    nova(cloud, "interface-detach", "barvm", extra)
    assert [r[1] for r in table_rows(nova(cloud, "interface-list", "barvm").stdout)] == [ports[0]["ID"]]
    assert cloud.openstack("port", "show", extra, check=False).returncode != 0

    fip = cloud.openstack_json("floating", "ip", "create", "public")["floating_ip_address"]
    assert ipaddress.ip_address(fip) in ipaddress.ip_network("127.0.0.0/8")
    cloud.openstack("server", "add", "floating", "ip", "barvm", fip)
    row = next(r for r in table_rows(nova(cloud, "list").stdout) if r[1] == "barvm")
    assert row[5] == f"barnet={fixed}, {fip}"
    shown = cloud.openstack_json("floating", "ip", "show", fip)
    assert shown["port_id"] == ports[0]["ID"] and shown["fixed_ip_address"] == fixed

    in_use = cloud.openstack("network", "delete", "barnet", check=False)
    assert in_use.returncode != 0
    h = {"X-Auth-Token": cloud.openstack_json("token", "issue")["id"]}
    for kind, what in [("NetworkInUse", f"networks/{net['id']}"),
                       ("SubnetInUse", f"subnets/{ports[0]['Fixed IP Addresses'][0]['subnet_id']}")]:
        r = requests.delete(f"{cloud.url}/network/v2.0/{what}", headers=h)
        assert r.status_code == 409 and r.json()["NeutronError"]["type"] == kind, r.text
    cloud.openstack("server", "delete", "--wait", "barvm")
    assert cloud.openstack_json("port", "list", "--network", "barnet", "--device-owner", "compute:nova") == []
    assert cloud.openstack_json("floating", "ip", "show", fip)["port_id"] is None
    cloud.openstack("floating", "ip", "delete", fip)
    cloud.openstack("router", "remove", "subnet", "barrouter", "barsub")
    cloud.openstack("router", "delete", "barrouter")
    cloud.openstack("network", "delete", net["id"])
    assert "barnet" not in [n["Name"] for n in cloud.openstack_json("network", "list")]


def test_concurrent_ports_get_distinct_addresses_until_exhaustion(cloud):
    conn = sdk(cloud)
    net = conn.network.create_network(name="many")
    conn.network.create_subnet(network_id=net.id, cidr="10.88.0.0/24", ip_version=4)

    def make(i):
        return conn.network.create_port(network_id=net.id, name=f"p{i}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        ports = list(pool.map(make, range(50)))
    addresses = [p.fixed_ips[0]["ip_address"] for p in ports]
    assert len(set(addresses)) == 50
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("10.88.0.0/24") for a in addresses)

    tiny = conn.network.create_network(name="tiny")
    conn.network.create_subnet(network_id=tiny.id, cidr="10.99.0.0/29", ip_version=4)
    made = [conn.network.create_port(network_id=tiny.id) for _ in range(5)]  # .2 to .6
    assert sorted(p.fixed_ips[0]["ip_address"] for p in made) == [f"10.99.0.{i}" for i in range(2, 7)]
    with pytest.raises(openstack.exceptions.ConflictException) as full:
        conn.network.create_port(network_id=tiny.id)
    assert "No more IP addresses available" in str(full.value)
    assert full.value.response.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    # Deleting the subnet while it hands out addresses is refused.
    subnet = conn.network.find_subnet(made[0].fixed_ips[0]["subnet_id"])
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.network.delete_subnet(subnet)
    # Pagination, as the SDK follows it.
    listed = list(conn.network.ports(network_id=net.id, limit=7))
    assert len(listed) == 50 and len({p.id for p in listed}) == 50


def test_port_lists_sort_and_page_and_freed_addresses_return(cloud):
    conn = sdk(cloud)
    net = conn.network.create_network(name="paged")
    conn.network.create_subnet(network_id=net.id, cidr="10.87.0.0/24", ip_version=4)
    made = [conn.network.create_port(network_id=net.id, name=f"pp-{i % 4}") for i in range(14)]
    # Given lowest first, one after another: .2 to .15.
    assert [p.fixed_ips[0]["ip_address"] for p in made] == [f"10.87.0.{i}" for i in range(2, 16)]

    # The SDK following the pages of a sorted list: by name descending, then id.
    listed = list(conn.network.ports(network_id=net.id, limit=5, sort_key="name", sort_dir="desc"))
    expected = sorted(made, key=lambda p: p.id)
    expected.sort(key=lambda p: p.name, reverse=True)
    assert [p.id for p in listed] == [p.id for p in expected]

    # The next links by hand, with a filter of two values and some fields.
    token = cloud.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    h = {"X-Auth-Token": token}
    url = f"{cloud.url}/network/v2.0/ports?network_id={net.id}&name=pp-1&name=pp-3&limit=3&fields=id&fields=name"
    pages = []
    while url:
        r = requests.get(url, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["ports"])
        assert all(set(p) == {"id", "name"} for p in body["ports"])
        url = next((link["href"] for link in body.get("ports_links", []) if link["rel"] == "next"), None)
    walked = [p["id"] for page in pages for p in page]
    whole = requests.get(f"{cloud.url}/network/v2.0/ports?network_id={net.id}&name=pp-1&name=pp-3", headers=h).json()
    assert walked == [p["id"] for p in whole["ports"]]
    assert len(walked) == 7 and [len(p) for p in pages] == [3, 3, 1]
    # Going back from the second page (page_reverse) gives the first.
    back = requests.get(
        f"{cloud.url}/network/v2.0/ports?network_id={net.id}&name=pp-1&name=pp-3&limit=3"
        f"&marker={pages[1][0]['id']}&page_reverse=True", headers=h).json()
    assert sorted(p["id"] for p in back["ports"]) == sorted(p["id"] for p in pages[0])
    r = requests.get(f"{cloud.url}/network/v2.0/ports?marker=00000000-0000-0000-0000-000000000000", headers=h)
    assert r.status_code == 404 and "Marker" in r.json()["NeutronError"]["message"]

    # Addresses freed by deleted ports are given again, lowest first.
    for p in made:
        if p.fixed_ips[0]["ip_address"] in ("10.87.0.9", "10.87.0.5", "10.87.0.6"):
            cloud.openstack("port", "delete", p.id)
    again = [cloud.openstack_json("port", "create", "--network", net.id, f"again-{i}") for i in range(4)]
    assert [p["fixed_ips"][0]["ip_address"] for p in again] == ["10.87.0.5", "10.87.0.6", "10.87.0.9", "10.87.0.16"]


def test_errors_are_neutron_errors(cloud):
    token = cloud.openstack("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    base = f"{cloud.url}/network/v2.0"
    h = {"X-Auth-Token": token}
    r = requests.get(f"{base}/networks/nope", headers=h)
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "NetworkNotFound"
    r = requests.post(f"{base}/networks", headers=h, json={"network": {"name": "x", "bogus": 1}})
    assert r.status_code == 400 and "bogus" in r.json()["NeutronError"]["message"]
    r = requests.post(f"{base}/ports", headers=h, data="{not json")
    assert r.status_code == 400
    r = requests.get(f"{base}/networks", headers={"X-Auth-Token": "bad"})
    assert r.status_code == 401


def test_subnet_pools_carve_subnets(cloud):
    cloud.openstack("subnet", "pool", "create", "--pool-prefix", "10.200.0.0/16", "--default-prefix-length", "26", "sp")
    cloud.openstack("network", "create", "spnet")
    a = cloud.openstack_json("subnet", "create", "--network", "spnet", "--subnet-pool", "sp", "a")
    b = cloud.openstack_json("subnet", "create", "--network", "spnet", "--subnet-pool", "sp", "--prefix-length", "24", "b")
    assert (a["cidr"], b["cidr"]) == ("10.200.0.0/26", "10.200.1.0/24")
    assert a["subnetpool_id"] == b["subnetpool_id"]
    shown = cloud.openstack_json("subnet", "pool", "show", "sp")
    assert shown["prefixes"] == ["10.200.0.0/16"]
    in_use = cloud.openstack("subnet", "pool", "delete", "sp", check=False)
    assert in_use.returncode != 0
    cloud.openstack("subnet", "delete", "a", "b")
    cloud.openstack("subnet", "pool", "delete", "sp")
