"""A hostile tenant stays inside its project: attacks across projects through
ports, external and shared networks, locks, private flavors and restricted
application credentials, each shown failing against a freshly started
`oxistack serve`. `alpha` is the victim (a reader and a member), `beta`
the attacker, as in the role matrix."""

import time

import pytest
import requests

from conftest import Cloud
from test_role_matrix import matrix_with_image

S = "/compute/v2.1/servers"
N = "/network/v2.0"


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    cloud = Cloud(tmp_path_factory.mktemp("isolation") / "data").start()
    m = matrix_with_image(cloud)
    yield m
    cloud.stop()


def boot(m, persona, networks, name="s", flavor="1"):
    return m.call(persona, "POST", S, {"server": {"name": name, "imageRef": m.image_active, "flavorRef": flavor,
                                                 "networks": networks}})


def active(m, persona, r):
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    deadline = time.time() + 60
    while time.time() < deadline:
        s = m.get(persona, f"{S}/{sid}").json()["server"]
        if s["status"] == "ACTIVE":
            return sid
        assert s["status"] == "BUILD", s
        time.sleep(0.2)
    raise AssertionError(f"{sid} never became ACTIVE")


def own_network(m, persona, cidr):
    net = m.made(m.call(persona, "POST", f"{N}/networks", {"network": {"name": f"net-{persona}"}}), "network")
    m.made(m.call(persona, "POST", f"{N}/subnets", {"subnet": {"network_id": net, "cidr": cidr, "ip_version": 4}}),
           "subnet")
    return net


def test_a_port_of_another_project_naming_a_server_changes_nothing(m):
    alpha_net = own_network(m, "member", "10.20.0.0/24")
    sid = active(m, "member", boot(m, "member", [{"uuid": alpha_net}]))
    before = m.get("member", f"{S}/{sid}").json()["server"]["addresses"]
    assert len(before) == 1, before

    beta_net = own_network(m, "other", "10.30.0.0/24")
    r = m.call("other", "POST", f"{N}/ports", {"port": {
        "network_id": beta_net, "device_id": sid, "device_owner": "compute:nova"}})
    assert r.status_code == 201, r.text
    injected = r.json()["port"]["id"]

    # Anything that rereads the server's ports (an interface attach does) keeps beta's port out.
    r = m.call("member", "POST", f"{S}/{sid}/os-interface", {"interfaceAttachment": {"net_id": alpha_net}})
    assert r.status_code == 200, r.text
    ports = [i["port_id"] for i in m.get("member", f"{S}/{sid}/os-interface").json()["interfaceAttachments"]]
    assert injected not in ports and len(ports) == 2, ports
    addresses = m.get("member", f"{S}/{sid}").json()["server"]["addresses"]
    assert "10.30.0." not in str(addresses), addresses

    # Deleting the server leaves beta's port alone; beta learned nothing of alpha's.
    assert m.call("member", "DELETE", f"{S}/{sid}").status_code == 204
    time.sleep(1)
    assert m.get("other", f"{N}/ports/{injected}").status_code == 200
    assert m.get("other", f"{S}/{sid}").status_code == 404


def test_router_interfaces_and_dhcp_ports_are_not_claimed_by_tenants(m):
    net = own_network(m, "member", "10.21.0.0/24")
    router = m.made(m.call("member", "POST", f"{N}/routers", {"router": {"name": "r"}}), "router")
    for owner in ["network:router_interface", "network:dhcp", "network:router_gateway"]:
        r = m.call("member", "POST", f"{N}/ports", {"port": {
            "network_id": net, "device_id": router, "device_owner": owner}})
        assert r.status_code == 403 and r.json()["NeutronError"]["type"] == "PolicyNotAuthorized", r.text
    port = m.made(m.call("member", "POST", f"{N}/ports", {"port": {"network_id": net}}), "port")
    r = m.call("member", "PUT", f"{N}/ports/{port}", {"port": {"device_owner": "network:router_interface",
                                                             "device_id": router}})
    assert r.status_code == 403, r.text
    # The service itself still makes router interfaces.
    subnet = m.get("member", f"{N}/subnets?network_id={net}").json()["subnets"][0]["id"]
    r = m.call("member", "PUT", f"{N}/routers/{router}/add_router_interface", {"subnet_id": subnet})
    assert r.status_code == 200, r.text


def test_external_networks_are_attached_by_admins_only(m):
    r = boot(m, "member", [{"uuid": m.public}])
    assert r.status_code == 403 and "network:attach_external_network" in r.text, r.text
    net = own_network(m, "member", "10.22.0.0/24")
    sid = active(m, "member", boot(m, "member", [{"uuid": net}]))
    r = m.call("member", "POST", f"{S}/{sid}/os-interface", {"interfaceAttachment": {"net_id": m.public}})
    assert r.status_code == 403 and "network:attach_external_network" in r.text, r.text
    assert m.call("admin", "POST", f"{S}/{sid}/os-interface",
                  {"interfaceAttachment": {"net_id": m.public}}).status_code == 200


def test_addresses_on_shared_networks_are_chosen_by_their_owner_only(m):
    shared = m.made(m.call("admin", "POST", f"{N}/networks", {"network": {"name": "shared", "shared": True}}),
                    "network")
    m.made(m.call("admin", "POST", f"{N}/subnets", {"subnet": {
        "network_id": shared, "cidr": "10.40.0.0/24", "ip_version": 4}}), "subnet")
    r = m.call("member", "POST", f"{N}/ports", {"port": {"network_id": shared,
                                                       "fixed_ips": [{"ip_address": "10.40.0.50"}]}})
    assert r.status_code == 403 and "fixed_ips" in r.text, r.text
    r = m.call("member", "POST", f"{N}/ports", {"port": {"network_id": shared, "mac_address": "fa:16:3e:00:00:01"}})
    assert r.status_code == 403 and "mac_address" in r.text, r.text
    assert m.call("member", "POST", f"{N}/ports", {"port": {"network_id": shared}}).status_code == 201
    r = boot(m, "member", [{"uuid": shared, "fixed_ip": "10.40.0.51"}])
    assert r.status_code == 403, r.text
    active(m, "member", boot(m, "member", [{"uuid": shared}]))
    # External networks: the same for ports made directly.
    r = m.call("member", "POST", f"{N}/ports", {"port": {"network_id": m.public}})
    assert r.status_code in (403, 404), r.text


def test_a_locked_server_refuses_every_change_and_only_the_locker_unlocks(m):
    net = own_network(m, "member", "10.23.0.0/24")
    sid = active(m, "member", boot(m, "member", [{"uuid": net}]))
    assert m.call("admin", "POST", f"{S}/{sid}/action", {"lock": None}).status_code == 202
    changes = [
        ("DELETE", f"{S}/{sid}", None),
        ("PUT", f"{S}/{sid}", {"server": {"name": "renamed"}}),
        ("PUT", f"{S}/{sid}/metadata/k", {"meta": {"k": "v"}}),
        ("POST", f"{S}/{sid}/metadata", {"metadata": {"k": "v"}}),
        ("PUT", f"{S}/{sid}/tags/t", None),
        ("POST", f"{S}/{sid}/os-interface", {"interfaceAttachment": {"net_id": net}}),
        ("POST", f"{S}/{sid}/action", {"os-stop": None}),
        ("POST", f"{S}/{sid}/action", {"rebuild": {"imageRef": m.image_active}}),
        ("POST", f"{S}/{sid}/action", {"changePassword": {"adminPass": "x"}}),
    ]
    for method, path, body in changes:
        r = m.call("member", method, path, body)
        assert r.status_code == 409 and "locked" in r.text, (method, path, r.status_code, r.text)
    port = m.get("member", f"{S}/{sid}/os-interface").json()["interfaceAttachments"][0]["port_id"]
    r = m.call("member", "DELETE", f"{S}/{sid}/os-interface/{port}")
    assert r.status_code == 409, r.text
    # An admin's lock is the admin's to lift.
    r = m.call("member", "POST", f"{S}/{sid}/action", {"unlock": None})
    assert r.status_code == 403 and "unlock_override" in r.text, r.text
    assert m.call("admin", "POST", f"{S}/{sid}/action", {"unlock": None}).status_code == 202
    # The owner's own lock is the owner's to lift.
    assert m.call("member", "POST", f"{S}/{sid}/action", {"lock": None}).status_code == 202
    assert m.call("member", "DELETE", f"{S}/{sid}").status_code == 409
    assert m.call("member", "POST", f"{S}/{sid}/action", {"unlock": None}).status_code == 202
    assert m.call("member", "PUT", f"{S}/{sid}", {"server": {"name": "renamed"}}).status_code == 200


def test_private_flavors_are_absent_to_projects_without_access(m):
    r = m.call("admin", "POST", "/compute/v2.1/flavors", {"flavor": {
        "name": "secret", "ram": 64, "vcpus": 1, "disk": 1, "os-flavor-access:is_public": False}})
    assert r.status_code == 200, r.text
    fid = r.json()["flavor"]["id"]
    assert m.get("member", f"/compute/v2.1/flavors/{fid}").status_code == 404
    assert m.get("member", f"/compute/v2.1/flavors/{fid}/os-extra_specs").status_code == 404
    assert fid not in m.get("member", "/compute/v2.1/flavors").text
    net = own_network(m, "member", "10.24.0.0/24")
    r = boot(m, "member", [{"uuid": net}], flavor=fid)
    assert r.status_code == 400 and "could not be found" in r.text, r.text
    sid = active(m, "member", boot(m, "member", [{"uuid": net}]))
    r = m.call("member", "POST", f"{S}/{sid}/action", {"resize": {"flavorRef": fid}})
    assert r.status_code == 400 and "could not be found" in r.text, r.text
    # Shared with alpha, it is alpha's to use, and still nobody else's.
    r = m.call("admin", "POST", f"/compute/v2.1/flavors/{fid}/action", {"addTenantAccess": {"tenant": m.alpha}})
    assert r.status_code == 200, r.text
    assert m.get("member", f"/compute/v2.1/flavors/{fid}").status_code == 200
    assert m.get("other", f"/compute/v2.1/flavors/{fid}").status_code == 404
    active(m, "member", boot(m, "member", [{"uuid": net}], flavor=fid))


def test_a_restricted_application_credential_makes_no_application_credentials(m):
    cloud = m.cloud
    uid = m.users["alpha-member"]

    def create(token, name, unrestricted=False):
        return requests.post(f"{cloud.url}/identity/v3/users/{uid}/application_credentials",
                             headers={"X-Auth-Token": token},
                             json={"application_credential": {"name": name, "unrestricted": unrestricted}})

    def login(cred):
        r = requests.post(f"{cloud.url}/identity/v3/auth/tokens", json={"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": cred["id"], "secret": cred["secret"]}}}})
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"]

    restricted = create(m.tokens["member"], "restricted")
    assert restricted.status_code == 201, restricted.text
    token = login(restricted.json()["application_credential"])
    r = create(token, "escalated")
    assert r.status_code == 403 and "application credential" in r.text, r.text
    unrestricted = create(m.tokens["member"], "unrestricted", unrestricted=True)
    assert create(login(unrestricted.json()["application_credential"]), "child").status_code == 201
