"""The role matrix: every resource type served × {reader, member, admin,
member of another project} × {list, show, create, update, delete, actions},
against a freshly started `oxistack serve`, each status as upstream's default
policy answers it (`reader` reads, `member` writes within its project,
`admin` administers; another project's resources are 404 as if absent).
Each row acts on a resource made for it, so no row depends on another.
The real clients are tried for the same refusals at the end."""

import hashlib
import io
import json
import tarfile
import time

import pytest
import requests

from conftest import Cloud

PERSONAS = ("reader", "member", "admin", "other")
# The proxies of Nova's network and image APIs end at 2.36.
V235 = {"OpenStack-API-Version": "compute 2.35"}
OK = "2xx"


class Matrix:
    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        c = cloud.openstack
        for project in ("alpha", "beta"):
            c("project", "create", project)
        for user, project, role in [("alpha-reader", "alpha", "reader"), ("alpha-member", "alpha", "member"),
                                    ("beta-member", "beta", "member")]:
            c("user", "create", "--password", f"pw-{user}", user)
            c("role", "add", "--project", project, "--user", user, role)
        self.rc = {
            "reader": cloud.user_rc("alpha-reader", "alpha", "pw-alpha-reader"),
            "member": cloud.user_rc("alpha-member", "alpha", "pw-alpha-member"),
            "other": cloud.user_rc("beta-member", "beta", "pw-beta-member"),
            "admin": None,
        }
        self.tokens = {p: cloud.openstack_json("token", "issue", rc=rc)["id"] for p, rc in self.rc.items()}
        self.alpha = cloud.openstack_json("project", "show", "alpha")["id"]
        self.beta = cloud.openstack_json("project", "show", "beta")["id"]
        self.users = {u: cloud.openstack_json("user", "show", u)["id"] for u in
                      ("alpha-reader", "alpha-member", "beta-member")}
        self.public = next(n["id"] for n in self.get("admin", "/network/v2.0/networks").json()["networks"]
                           if n["name"] == "public")

    def call(self, persona, method, path, body=None, headers=None):
        h = {"X-Auth-Token": self.tokens[persona], "OpenStack-API-Version": "compute 2.37", **(headers or {})}
        return requests.request(method, f"{self.cloud.url}{path}", json=body, headers=h, timeout=60)

    def get(self, persona, path):
        return self.call(persona, "GET", path)

    def made(self, r, key):
        assert r.status_code < 300, r.text
        return r.json()[key]["id"] if key else r.json()["id"]

    # What alpha's member owns, made fresh for each row.
    def server(self):
        sid = self.made(self.call("member", "POST", "/compute/v2.1/servers", {"server": {
            "name": "s", "imageRef": self.image_active, "flavorRef": "1", "networks": "none"}}), "server")
        deadline = time.time() + 60
        while time.time() < deadline:
            status = self.get("member", f"/compute/v2.1/servers/{sid}").json()["server"]["status"]
            if status == "ACTIVE":
                return sid
            assert status == "BUILD", status
            time.sleep(0.2)
        raise AssertionError(f"server {sid} never became ACTIVE")

    def network(self):
        return self.made(self.call("member", "POST", "/network/v2.0/networks", {"network": {"name": "n"}}),
                         "network")

    def subnet(self):
        net = self.network()
        return self.made(self.call("member", "POST", "/network/v2.0/subnets", {"subnet": {
            "network_id": net, "cidr": "10.9.0.0/24", "ip_version": 4}}), "subnet")

    def port(self):
        return self.made(self.call("member", "POST", "/network/v2.0/ports",
                                   {"port": {"network_id": self.network()}}), "port")

    def router(self):
        return self.made(self.call("member", "POST", "/network/v2.0/routers", {"router": {"name": "r"}}), "router")

    def floating_ip(self):
        return self.made(self.call("member", "POST", "/network/v2.0/floatingips",
                                   {"floatingip": {"floating_network_id": self.public}}), "floatingip")

    def security_group(self):
        return self.made(self.call("member", "POST", "/network/v2.0/security-groups",
                                   {"security_group": {"name": "sg"}}), "security_group")

    def rule(self):
        return self.made(self.call("member", "POST", "/network/v2.0/security-group-rules", {"security_group_rule": {
            "security_group_id": self.security_group(), "direction": "ingress", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22}}), "security_group_rule")

    def image(self):
        return self.made(self.call("member", "POST", "/image/v2/images", {
            "name": "i", "disk_format": "raw", "container_format": "bare", "visibility": "shared"}), None)

    def keypair(self, persona):
        name = f"k-{persona}-{time.monotonic_ns()}"
        r = self.call(persona, "POST", "/compute/v2.1/os-keypairs", {"keypair": {"name": name, "public_key": (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHBvs+1lIz7oU8NRZM6OxyO2ZCqAvyEqFWmB7qqjvITz x")}})
        assert r.status_code == 201, r.text
        return name

    def ec2_credential(self):
        """An EC2 credential of alpha's member; its access key."""
        r = self.call("member", "POST", f"/identity/v3/users/{self.users['alpha-member']}/credentials/OS-EC2",
                      {"tenant_id": self.alpha})
        assert r.status_code == 201, r.text
        return r.json()["credential"]["access"]

    def user(self):
        return self.made(self.call("admin", "POST", "/identity/v3/users", {"user": {
            "name": f"u{time.monotonic_ns()}"}}), "user")

    def project(self):
        return self.made(self.call("admin", "POST", "/identity/v3/projects", {"project": {
            "name": f"p{time.monotonic_ns()}"}}), "project")

    def volume(self):
        vid = self.made(self.call("member", "POST", f"{V}/volumes", {"volume": {"size": 1, "name": "v"}}), "volume")
        deadline = time.time() + 60
        while time.time() < deadline:
            status = self.get("member", f"{V}/volumes/{vid}").json()["volume"]["status"]
            if status == "available":
                return vid
            assert status == "creating", status
            time.sleep(0.1)
        raise AssertionError(f"volume {vid} never became available")

    def snapshot(self):
        body = {"snapshot": {"volume_id": self.volume(), "name": "s"}}
        sid = self.made(self.call("member", "POST", f"{V}/snapshots", body), "snapshot")
        deadline = time.time() + 60
        while time.time() < deadline:
            status = self.get("member", f"{V}/snapshots/{sid}").json()["snapshot"]["status"]
            if status == "available":
                return sid
            assert status == "creating", status
            time.sleep(0.1)
        raise AssertionError(f"snapshot {sid} never became available")

    def backup(self):
        body = {"backup": {"volume_id": self.volume(), "name": "b"}}
        bid = self.made(self.call("member", "POST", f"{V}/backups", body), "backup")
        deadline = time.time() + 60
        while time.time() < deadline:
            status = self.get("member", f"{V}/backups/{bid}").json()["backup"]["status"]
            if status == "available":
                return bid
            assert status == "creating", status
            time.sleep(0.1)
        raise AssertionError(f"backup {bid} never became available")

    def transfer(self):
        return self.made(self.call("member", "POST", f"{V}/os-volume-transfer", {"transfer": {
            "volume_id": self.volume(), "name": "t"}}), "transfer")

    def container(self):
        name = f"c{time.monotonic_ns()}"
        r = self.call("member", "PUT", f"{O}/AUTH_{self.alpha}/{name}")
        assert r.status_code == 201, r.text
        return name

    def object(self):
        path = f"{self.container()}/o"
        r = requests.put(f"{self.cloud.url}{O}/AUTH_{self.alpha}/{path}", data=b"data", timeout=60,
                         headers={"X-Auth-Token": self.tokens["member"]})
        assert r.status_code == 201, r.text
        return path

    def flavor(self):
        return self.made(self.call("admin", "POST", "/compute/v2.1/flavors", {"flavor": {
            "name": f"f{time.monotonic_ns()}", "ram": 64, "vcpus": 1, "disk": 1}}), "flavor")


def matrix_with_image(cloud):
    """The personas, and a public raw image they all boot (`image_active`)."""
    m = Matrix(cloud)
    img = m.made(m.call("admin", "POST", "/image/v2/images", {
        "name": "boot", "disk_format": "raw", "container_format": "bare", "visibility": "public"}), None)
    r = requests.put(f"{cloud.url}/image/v2/images/{img}/file", data=b"\0" * 4096,
                     headers={"X-Auth-Token": m.tokens["admin"], "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    m.image_active = img
    return m


def expect(reader, member, admin, other):
    return dict(zip(PERSONAS, (reader, member, admin, other)))


# (resource, operation, what to make first (a Matrix method, or None), the request, the statuses).
S = "/compute/v2.1/servers"
N = "/network/v2.0"
V = "/volume/v3"
O = "/object/v1"


def _tar():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("from-archive.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"data"))
    return out.getvalue()


TAR = _tar()
CINDER_3_44 = {"OpenStack-API-Version": "volume 3.44"}
CINDER_3_68 = {"OpenStack-API-Version": "volume 3.68"}
ROWS = [
    ("server", "list", None, lambda m, _: ("GET", f"{S}/detail", None), expect(200, 200, 200, 200)),
    ("server", "show", "server", lambda m, i: ("GET", f"{S}/{i}", None), expect(200, 200, 200, 404)),
    ("server", "create", None, lambda m, _: ("POST", S, {"server": {
        "name": "x", "imageRef": m.image_active, "flavorRef": "1", "networks": "none"}}), expect(403, 202, 202, 202)),
    ("server", "update", "server", lambda m, i: ("PUT", f"{S}/{i}", {"server": {"name": "y"}}),
     expect(403, 200, 200, 404)),
    ("server", "delete", "server", lambda m, i: ("DELETE", f"{S}/{i}", None), expect(403, 204, 204, 404)),
    ("server", "stop", "server", lambda m, i: ("POST", f"{S}/{i}/action", {"os-stop": None}),
     expect(403, 202, 202, 404)),
    ("server", "reboot", "server", lambda m, i: ("POST", f"{S}/{i}/action", {"reboot": {"type": "SOFT"}}),
     expect(403, 202, 202, 404)),
    ("server", "lock", "server", lambda m, i: ("POST", f"{S}/{i}/action", {"lock": None}),
     expect(403, 202, 202, 404)),
    ("server", "console log", "server",
     lambda m, i: ("POST", f"{S}/{i}/action", {"os-getConsoleOutput": {"length": 5}}), expect(403, 200, 200, 404)),
    ("server", "createImage", "server", lambda m, i: ("POST", f"{S}/{i}/action", {"createImage": {"name": "snap"}}),
     expect(403, 202, 202, 404)),
    ("server", "shelveOffload", "server", lambda m, i: ("POST", f"{S}/{i}/action", {"shelveOffload": None}),
     expect(403, 403, 409, 403)),
    ("server", "migrate", "server", lambda m, i: ("POST", f"{S}/{i}/action", {"migrate": None}),
     expect(403, 403, 400, 403)),
    ("server metadata", "update", "server", lambda m, i: ("PUT", f"{S}/{i}/metadata/k", {"meta": {"k": "v"}}),
     expect(403, 200, 200, 404)),
    ("server metadata", "list", "server", lambda m, i: ("GET", f"{S}/{i}/metadata", None), expect(200, 200, 200, 404)),
    ("server tags", "update", "server", lambda m, i: ("PUT", f"{S}/{i}/tags/t", None), expect(403, OK, OK, 404)),
    ("server interfaces", "list", "server", lambda m, i: ("GET", f"{S}/{i}/os-interface", None),
     expect(200, 200, 200, 404)),
    ("server actions", "list", "server", lambda m, i: ("GET", f"{S}/{i}/os-instance-actions", None),
     expect(200, 200, 200, 404)),
    ("server diagnostics", "show", "server", lambda m, i: ("GET", f"{S}/{i}/diagnostics", None),
     expect(403, 403, 200, 403)),
    ("keypair", "list", None, lambda m, _: ("GET", "/compute/v2.1/os-keypairs", None), expect(200, 200, 200, 200)),
    ("nova security group", "list", None, lambda m, _: ("GET", "/compute/v2.1/os-security-groups", None, V235),
     expect(200, 200, 200, 200)),
    ("nova security group", "create", None, lambda m, _: ("POST", "/compute/v2.1/os-security-groups", {
        "security_group": {"name": "n", "description": "d"}}, V235), expect(403, 200, 200, 200)),
    ("nova security group", "delete", "security_group", lambda m, i: (
        "DELETE", f"/compute/v2.1/os-security-groups/{i}", None, V235), expect(403, 202, 202, 404)),
    ("nova security group rule", "create", "security_group", lambda m, i: (
        "POST", "/compute/v2.1/os-security-group-rules", {"security_group_rule": {
            "parent_group_id": i, "ip_protocol": "tcp", "from_port": 80, "to_port": 80}}, V235),
     expect(403, 200, 200, 404)),
    ("server security groups", "list", "server", lambda m, i: ("GET", f"{S}/{i}/os-security-groups", None),
     expect(200, 200, 200, 404)),
    ("server security groups", "add", "server", lambda m, i: ("POST", f"{S}/{i}/action", {
        "addSecurityGroup": {"name": "default"}}), expect(403, 400, 400, 404)),
    ("nova image proxy", "delete", "image", lambda m, i: ("DELETE", f"/compute/v2.1/images/{i}", None, V235),
     expect(403, 204, 204, 404)),
    ("flavor", "list", None, lambda m, _: ("GET", "/compute/v2.1/flavors/detail", None), expect(200, 200, 200, 200)),
    ("flavor", "create", None, lambda m, _: ("POST", "/compute/v2.1/flavors", {"flavor": {
        "name": f"f{time.monotonic_ns()}", "ram": 64, "vcpus": 1, "disk": 1}}), expect(403, 403, 200, 403)),
    ("flavor", "delete", "flavor", lambda m, i: ("DELETE", f"/compute/v2.1/flavors/{i}", None),
     expect(403, 403, OK, 403)),
    ("compute quota", "show own", None, lambda m, _: ("GET", f"/compute/v2.1/os-quota-sets/{m.alpha}", None),
     expect(200, 200, 200, 403)),
    ("compute quota", "update", None, lambda m, _: ("PUT", f"/compute/v2.1/os-quota-sets/{m.beta}",
                                                    {"quota_set": {"instances": 20}}), expect(403, 403, 200, 403)),
    ("server group", "create", None, lambda m, _: ("POST", "/compute/v2.1/os-server-groups", {"server_group": {
        "name": "g", "policies": ["affinity"]}}), expect(403, 200, 200, 200)),
    ("hypervisor", "list", None, lambda m, _: ("GET", "/compute/v2.1/os-hypervisors", None),
     expect(403, 403, 200, 403)),
    ("aggregate", "list", None, lambda m, _: ("GET", "/compute/v2.1/os-aggregates", None), expect(403, 403, 200, 403)),
    ("image", "list", None, lambda m, _: ("GET", "/image/v2/images", None), expect(200, 200, 200, 200)),
    ("image", "show", "image", lambda m, i: ("GET", f"/image/v2/images/{i}", None), expect(200, 200, 200, 404)),
    ("image", "create", None, lambda m, _: ("POST", "/image/v2/images", {"name": "x", "disk_format": "raw",
                                                                          "container_format": "bare"}),
     expect(403, 201, 201, 201)),
    ("image", "update", "image", lambda m, i: ("PATCH", f"/image/v2/images/{i}", [
        {"op": "replace", "path": "/name", "value": "y"}]), expect(403, 200, 200, 404)),
    ("image", "delete", "image", lambda m, i: ("DELETE", f"/image/v2/images/{i}", None), expect(403, 204, 204, 404)),
    ("image", "upload", "image", lambda m, i: ("PUT", f"/image/v2/images/{i}/file", b"\0" * 512),
     expect(403, 204, 204, 404)),
    ("image", "publicize", "image", lambda m, i: ("PATCH", f"/image/v2/images/{i}", [
        {"op": "replace", "path": "/visibility", "value": "public"}]), expect(403, 403, 200, 404)),
    ("image member", "add", "image", lambda m, i: ("POST", f"/image/v2/images/{i}/members", {"member": m.beta}),
     expect(403, 200, 200, 404)),
]
for kind, path, key, update in [
    ("network", "networks", "network", {"name": "y"}),
    ("subnet", "subnets", "subnet", {"name": "y"}),
    ("port", "ports", "port", {"name": "y"}),
    ("router", "routers", "router", {"name": "y"}),
    ("floating_ip", "floatingips", "floatingip", {"description": "y"}),
    ("security_group", "security-groups", "security_group", {"name": "y"}),
]:
    ROWS += [
        (kind, "list", None, lambda m, _, p=path: ("GET", f"{N}/{p}", None), expect(200, 200, 200, 200)),
        (kind, "show", kind, lambda m, i, p=path: ("GET", f"{N}/{p}/{i}", None), expect(200, 200, 200, 404)),
        (kind, "update", kind, lambda m, i, p=path, k=key, u=update: ("PUT", f"{N}/{p}/{i}", {k: u}),
         expect(403, 200, 200, 404)),
        (kind, "delete", kind, lambda m, i, p=path: ("DELETE", f"{N}/{p}/{i}", None), expect(403, 204, 204, 404)),
    ]
ROWS += [
    ("network", "create", None, lambda m, _: ("POST", f"{N}/networks", {"network": {"name": "x"}}),
     expect(403, 201, 201, 201)),
    ("network", "create shared", None, lambda m, _: ("POST", f"{N}/networks", {"network": {
        "name": "x", "shared": True}}), expect(403, 403, 201, 403)),
    ("router", "create", None, lambda m, _: ("POST", f"{N}/routers", {"router": {"name": "x"}}),
     expect(403, 201, 201, 201)),
    ("router", "add interface", "subnet", lambda m, i: ("PUT", f"{N}/routers/{m.router()}/add_router_interface",
                                                        {"subnet_id": i}), expect(403, 200, 200, 404)),
    ("security_group_rule", "create", "security_group", lambda m, i: ("POST", f"{N}/security-group-rules", {
        "security_group_rule": {"security_group_id": i, "direction": "ingress", "protocol": "udp"}}),
     expect(403, 201, 201, 404)),
    ("security_group_rule", "show", "rule", lambda m, i: ("GET", f"{N}/security-group-rules/{i}", None),
     expect(200, 200, 200, 404)),
    ("security_group_rule", "delete", "rule", lambda m, i: ("DELETE", f"{N}/security-group-rules/{i}", None),
     expect(403, 204, 204, 404)),
    ("network quota", "update", None, lambda m, _: ("PUT", f"{N}/quotas/{m.beta}", {"quota": {"network": 50}}),
     expect(403, 403, 200, 403)),
    ("subnet", "create", "network", lambda m, i: ("POST", f"{N}/subnets", {"subnet": {
        "network_id": i, "cidr": "10.8.0.0/24", "ip_version": 4}}), expect(403, 201, 201, 404)),
    ("port", "create", "network", lambda m, i: ("POST", f"{N}/ports", {"port": {"network_id": i}}),
     expect(403, 201, 201, 404)),
    ("floating_ip", "create", None, lambda m, _: ("POST", f"{N}/floatingips", {"floatingip": {
        "floating_network_id": m.public}}), expect(403, 201, 201, 201)),
    ("security_group", "create", None, lambda m, _: ("POST", f"{N}/security-groups", {"security_group": {
        "name": "x"}}), expect(403, 201, 201, 201)),
    ("network tags", "update", "network", lambda m, i: ("PUT", f"{N}/networks/{i}/tags/t", None),
     expect(403, 201, 201, 404)),
    ("network quota", "show own", None, lambda m, _: ("GET", f"{N}/quotas/{m.alpha}", None),
     expect(200, 200, 200, 403)),
    ("image member", "list", "image", lambda m, i: ("GET", f"/image/v2/images/{i}/members", None),
     expect(200, 200, 200, 404)),
    ("identity user", "list", None, lambda m, _: ("GET", "/identity/v3/users", None), expect(403, 403, 200, 403)),
    ("identity user", "show", None, lambda m, _: ("GET", f"/identity/v3/users/{m.users['alpha-member']}", None),
     expect(403, 200, 200, 403)),
    ("identity user", "create", None, lambda m, _: ("POST", "/identity/v3/users", {"user": {
        "name": f"u{time.monotonic_ns()}"}}), expect(403, 403, 201, 403)),
    ("identity user", "update", None, lambda m, _: ("PATCH", f"/identity/v3/users/{m.users['alpha-reader']}", {
        "user": {"description": "d"}}), expect(403, 403, 200, 403)),
    ("identity user", "delete", "user", lambda m, i: ("DELETE", f"/identity/v3/users/{i}", None),
     expect(403, 403, 204, 403)),
    # Credentials are their user's (admins reach all): EC2 ones sign S3.
    ("identity ec2 credential", "create", None, lambda m, _: (
        "POST", f"/identity/v3/users/{m.users['alpha-member']}/credentials/OS-EC2", {"tenant_id": m.alpha}),
     expect(403, 201, 201, 403)),
    ("identity ec2 credential", "show", "ec2_credential", lambda m, i: (
        "GET", f"/identity/v3/users/{m.users['alpha-member']}/credentials/OS-EC2/{i}", None),
     expect(403, 200, 200, 403)),
    ("identity ec2 credential", "delete", "ec2_credential", lambda m, i: (
        "DELETE", f"/identity/v3/users/{m.users['alpha-member']}/credentials/OS-EC2/{i}", None),
     expect(403, 204, 204, 403)),
    ("identity credential", "show", "ec2_credential", lambda m, i: (
        "GET", f"/identity/v3/credentials/{hashlib.sha256(i.encode()).hexdigest()}", None),
     expect(403, 200, 200, 403)),
    ("identity credential", "create", None, lambda m, _: ("POST", "/identity/v3/credentials", {"credential": {
        "user_id": m.users["alpha-member"], "project_id": m.alpha, "type": "ec2",
        "blob": json.dumps({"access": f"a{time.monotonic_ns()}", "secret": "s"})}}), expect(403, 201, 201, 403)),
    ("identity project", "list", None, lambda m, _: ("GET", "/identity/v3/projects", None),
     expect(403, 403, 200, 403)),
    ("identity project", "show", None, lambda m, _: ("GET", f"/identity/v3/projects/{m.alpha}", None),
     expect(200, 200, 200, 403)),
    ("identity project", "update", None, lambda m, _: ("PATCH", f"/identity/v3/projects/{m.beta}", {
        "project": {"description": "d"}}), expect(403, 403, 200, 403)),
    ("identity project", "delete", "project", lambda m, i: ("DELETE", f"/identity/v3/projects/{i}", None),
     expect(403, 403, 204, 403)),
    ("application credential", "create", None, lambda m, _: (
        "POST", f"/identity/v3/users/{m.users['alpha-member']}/application_credentials",
        {"application_credential": {"name": f"a{time.monotonic_ns()}"}}), expect(403, 201, 403, 403)),
    ("application credential", "list", None, lambda m, _: (
        "GET", f"/identity/v3/users/{m.users['alpha-member']}/application_credentials", None),
     expect(403, 200, 200, 403)),
    ("identity project", "create", None, lambda m, _: ("POST", "/identity/v3/projects", {"project": {
        "name": f"p{time.monotonic_ns()}"}}), expect(403, 403, 201, 403)),
    ("volume", "list", None, lambda m, _: ("GET", f"{V}/volumes/detail", None), expect(200, 200, 200, 200)),
    ("volume", "show", "volume", lambda m, i: ("GET", f"{V}/volumes/{i}", None), expect(200, 200, 200, 404)),
    ("volume", "create", None, lambda m, _: ("POST", f"{V}/volumes", {"volume": {"size": 1}}),
     expect(403, 202, 202, 202)),
    ("volume", "update", "volume", lambda m, i: ("PUT", f"{V}/volumes/{i}", {"volume": {"name": "y"}}),
     expect(403, 200, 200, 404)),
    ("volume", "delete", "volume", lambda m, i: ("DELETE", f"{V}/volumes/{i}", None), expect(403, 202, 202, 404)),
    ("volume", "extend", "volume", lambda m, i: ("POST", f"{V}/volumes/{i}/action", {"os-extend": {"new_size": 2}}),
     expect(403, 202, 202, 404)),
    ("volume", "reset status", "volume", lambda m, i: ("POST", f"{V}/volumes/{i}/action", {
        "os-reset_status": {"status": "available"}}), expect(403, 403, 202, 404)),
    ("volume", "force delete", "volume", lambda m, i: ("POST", f"{V}/volumes/{i}/action", {"os-force_delete": {}}),
     expect(403, 403, 202, 404)),
    ("volume metadata", "update", "volume", lambda m, i: ("PUT", f"{V}/volumes/{i}/metadata/k", {"meta": {"k": "v"}}),
     expect(403, 200, 200, 404)),
    ("volume metadata", "list", "volume", lambda m, i: ("GET", f"{V}/volumes/{i}/metadata", None),
     expect(200, 200, 200, 404)),
    ("volume", "create from volume", "volume", lambda m, i: ("POST", f"{V}/volumes", {"volume": {
        "source_volid": i}}), expect(403, 202, 202, 404)),
    ("volume", "create from image", None, lambda m, _: ("POST", f"{V}/volumes", {"volume": {
        "size": 1, "imageRef": m.image_active}}), expect(403, 202, 202, 202)),
    ("volume snapshot", "list", None, lambda m, _: ("GET", f"{V}/snapshots/detail", None),
     expect(200, 200, 200, 200)),
    ("volume snapshot", "show", "snapshot", lambda m, i: ("GET", f"{V}/snapshots/{i}", None),
     expect(200, 200, 200, 404)),
    ("volume snapshot", "create", "volume", lambda m, i: ("POST", f"{V}/snapshots", {"snapshot": {
        "volume_id": i}}), expect(403, 202, 202, 404)),
    ("volume snapshot", "update", "snapshot", lambda m, i: ("PUT", f"{V}/snapshots/{i}", {"snapshot": {
        "name": "y"}}), expect(403, 200, 200, 404)),
    ("volume snapshot", "delete", "snapshot", lambda m, i: ("DELETE", f"{V}/snapshots/{i}", None),
     expect(403, 202, 202, 404)),
    ("volume snapshot", "reset status", "snapshot", lambda m, i: ("POST", f"{V}/snapshots/{i}/action", {
        "os-reset_status": {"status": "error"}}), expect(403, 403, 202, 404)),
    ("volume snapshot metadata", "update", "snapshot", lambda m, i: (
        "PUT", f"{V}/snapshots/{i}/metadata/k", {"meta": {"k": "v"}}), expect(403, 200, 200, 404)),
    ("volume attachment", "create", "volume", lambda m, i: ("POST", f"{V}/attachments", {"attachment": {
        "volume_uuid": i}}, CINDER_3_44), expect(403, 200, 200, 404)),
    ("volume attachment", "list", None, lambda m, _: ("GET", f"{V}/attachments", None, CINDER_3_44),
     expect(200, 200, 200, 200)),
    ("volume", "upload to image", "volume", lambda m, i: ("POST", f"{V}/volumes/{i}/action", {
        "os-volume_upload_image": {"image_name": "up", "disk_format": "qcow2"}}), expect(403, 202, 202, 404)),
    ("volume", "reserve", "volume", lambda m, i: ("POST", f"{V}/volumes/{i}/action", {"os-reserve": {}}),
     expect(403, 202, 202, 404)),
    ("server volume", "attach", "server", lambda m, i: ("POST", f"{S}/{i}/os-volume_attachments", {
        "volumeAttachment": {"volumeId": m.volume()}}), expect(403, 200, 200, 404)),
    ("server volume", "list", "server", lambda m, i: ("GET", f"{S}/{i}/os-volume_attachments", None),
     expect(200, 200, 200, 404)),
    ("server", "create from a new volume", None, lambda m, _: ("POST", S, {"server": {
        "name": "x", "flavorRef": "1", "networks": "none", "block_device_mapping_v2": [{
            "uuid": m.image_active, "source_type": "image", "destination_type": "volume", "boot_index": 0,
            "volume_size": 1}]}}), expect(403, 202, 202, 202)),
    ("server", "create with a volume", "volume", lambda m, i: ("POST", S, {"server": {
        "name": "x", "imageRef": m.image_active, "flavorRef": "1", "networks": "none",
        "block_device_mapping_v2": [{"uuid": i, "source_type": "volume", "destination_type": "volume"}]}}),
     expect(403, 202, 202, 400)),
    ("volume", "reimage", "volume", lambda m, i: ("POST", f"{V}/volumes/{i}/action", {
        "os-reimage": {"image_id": m.image_active}}, CINDER_3_68), expect(403, 202, 202, 404)),
    ("volume backup", "create", "volume", lambda m, i: ("POST", f"{V}/backups", {"backup": {"volume_id": i}}),
     expect(403, 202, 202, 404)),
    ("volume backup", "list", None, lambda m, _: ("GET", f"{V}/backups/detail", None), expect(200, 200, 200, 200)),
    ("volume backup", "show", "backup", lambda m, i: ("GET", f"{V}/backups/{i}", None), expect(200, 200, 200, 404)),
    ("volume backup", "restore", "backup", lambda m, i: ("POST", f"{V}/backups/{i}/restore", {"restore": {}}),
     expect(403, 202, 202, 404)),
    ("volume backup", "delete", "backup", lambda m, i: ("DELETE", f"{V}/backups/{i}", None),
     expect(403, 202, 202, 404)),
    ("volume type", "list", None, lambda m, _: ("GET", f"{V}/types", None), expect(200, 200, 200, 200)),
    ("volume type", "create", None, lambda m, _: ("POST", f"{V}/types", {"volume_type": {
        "name": f"t{time.monotonic_ns()}"}}), expect(403, 403, 200, 403)),
    ("volume quota", "show own", None, lambda m, _: ("GET", f"{V}/os-quota-sets/{m.alpha}", None),
     expect(200, 200, 200, 403)),
    ("volume quota", "update", None, lambda m, _: ("PUT", f"{V}/os-quota-sets/{m.beta}",
                                                   {"quota_set": {"volumes": 20}}), expect(403, 403, 200, 403)),
    ("volume transfer", "create", "volume", lambda m, i: ("POST", f"{V}/os-volume-transfer", {"transfer": {
        "volume_id": i}}), expect(403, 202, 202, 404)),
    ("volume transfer", "list", None, lambda m, _: ("GET", f"{V}/os-volume-transfer/detail", None),
     expect(200, 200, 200, 200)),
    ("volume transfer", "show", "transfer", lambda m, i: ("GET", f"{V}/os-volume-transfer/{i}", None),
     expect(200, 200, 200, 404)),
    ("volume transfer", "delete", "transfer", lambda m, i: ("DELETE", f"{V}/os-volume-transfer/{i}", None),
     expect(403, 202, 202, 404)),
    # Anyone with the key may take it, so a wrong key is what stops them.
    ("volume transfer", "accept with a wrong key", "transfer", lambda m, i: (
        "POST", f"{V}/os-volume-transfer/{i}/accept", {"accept": {"auth_key": "wrong"}}),
     expect(403, 400, 400, 400)),
    ("volume quota class", "show", None, lambda m, _: ("GET", f"{V}/os-quota-class-sets/default", None),
     expect(403, 403, 200, 403)),
    ("volume quota class", "update", None, lambda m, _: ("PUT", f"{V}/os-quota-class-sets/gold", {
        "quota_class_set": {"volumes": 20}}), expect(403, 403, 200, 403)),
    # Swift's keystoneauth: a project's account is its own operators' (and
    # readers'); an admin of another project is refused as anyone else.
    # An empty plain listing is Swift's 204.
    ("object container", "list", None, lambda m, _: ("GET", f"{O}/AUTH_{m.alpha}", None),
     expect(OK, OK, 403, 403)),
    ("object container", "create", None, lambda m, _: ("PUT", f"{O}/AUTH_{m.alpha}/c{time.monotonic_ns()}", None),
     expect(403, 201, 403, 403)),
    ("object container", "delete", "container", lambda m, i: ("DELETE", f"{O}/AUTH_{m.alpha}/{i}", None),
     expect(403, 204, 403, 403)),
    ("object", "create", "container", lambda m, i: ("PUT", f"{O}/AUTH_{m.alpha}/{i}/o", b"data"),
     expect(403, 201, 403, 403)),
    ("object", "show", "object", lambda m, i: ("GET", f"{O}/AUTH_{m.alpha}/{i}", None),
     expect(200, 200, 403, 403)),
    ("object", "update", "object", lambda m, i: ("POST", f"{O}/AUTH_{m.alpha}/{i}", None),
     expect(403, 202, 403, 403)),
    ("object", "delete", "object", lambda m, i: ("DELETE", f"{O}/AUTH_{m.alpha}/{i}", None),
     expect(403, 204, 403, 403)),
    ("object", "copy", "object", lambda m, i: ("PUT", f"{O}/AUTH_{m.alpha}/{i}-copy", None,
                                               {"X-Copy-From": f"/{i}"}), expect(403, 201, 403, 403)),
    # Container ACLs are set by the account's operators.
    ("object container", "set an ACL", "container", lambda m, i: ("POST", f"{O}/AUTH_{m.alpha}/{i}", None,
                                                                  {"X-Container-Read": ".r:*"}),
     expect(403, 204, 403, 403)),
    # An account's quota is a reseller admin's (Swift's account_quotas).
    ("object account", "set a quota", None, lambda m, _: ("POST", f"{O}/AUTH_{m.alpha}", None,
                                                          {"X-Account-Meta-Quota-Bytes": "100"}),
     expect(403, 403, 403, 403)),
    ("object", "create a static large object", "object", lambda m, i: (
        "PUT", f"{O}/AUTH_{m.alpha}/{i}-slo?multipart-manifest=put",
        json.dumps([{"path": f"/{i}", "etag": None, "size_bytes": 4}]).encode()), expect(403, 201, 403, 403)),
    # An account's ACL is its owner's to set (Swift's swift_owner).
    ("object account", "set an ACL", None, lambda m, _: ("POST", f"{O}/AUTH_{m.alpha}", None,
                                                         {"X-Account-Access-Control": '{"read-only":["x"]}'}),
     expect(403, 204, 403, 403)),
    # An archive is extracted by those who may write the container.
    ("object", "extract an archive", "container", lambda m, i: (
        "PUT", f"{O}/AUTH_{m.alpha}/{i}?extract-archive=tar", TAR), expect(403, 200, 403, 403)),
    ("volume service", "list", None, lambda m, _: ("GET", f"{V}/os-services", None), expect(403, 403, 200, 403)),
]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    cloud = Cloud(tmp_path_factory.mktemp("matrix") / "data").start()
    m = Matrix(cloud)
    img = m.made(m.call("member", "POST", "/image/v2/images", {
        "name": "boot", "disk_format": "raw", "container_format": "bare"}), None)
    r = requests.put(f"{cloud.url}/image/v2/images/{img}/file", data=b"\0" * 4096,
                     headers={"X-Auth-Token": m.tokens["member"], "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    m.image_active = img
    # Every project boots it; alpha makes a server, a network, ... for each row.
    assert m.call("admin", "PATCH", f"/image/v2/images/{img}", [{"op": "replace", "path": "/visibility", "value": "public"}],
                  {"Content-Type": "application/openstack-images-v2.1-json-patch"}).status_code == 200
    unlimited = {"instances": -1, "cores": -1, "ram": -1}
    assert m.call("admin", "PUT", f"/compute/v2.1/os-quota-sets/{m.alpha}", {"quota_set": unlimited}).status_code == 200
    unlimited = {"network": -1, "subnet": -1, "port": -1, "router": -1, "floatingip": -1, "security_group": -1,
                 "security_group_rule": -1}
    assert m.call("admin", "PUT", f"/network/v2.0/quotas/{m.alpha}", {"quota": unlimited}).status_code == 200
    unlimited = {"volumes": -1, "gigabytes": -1, "snapshots": -1, "backups": -1, "backup_gigabytes": -1}
    assert m.call("admin", "PUT", f"{V}/os-quota-sets/{m.alpha}", {"quota_set": unlimited}).status_code == 200
    yield m
    cloud.stop()


def matches(status, want):
    return 200 <= status < 300 if want == OK else status == want


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[0]}-{r[1]}" for r in ROWS])
def test_role_matrix(matrix, row):
    kind, op, make, request, want = row
    wrong = []
    for persona in PERSONAS:
        made = getattr(matrix, make)() if make else None
        method, path, body, *extra = request(matrix, made)
        headers = extra[0] if extra else None
        if isinstance(body, bytes):
            r = requests.request(method, f"{matrix.cloud.url}{path}", data=body, timeout=60, headers={
                "X-Auth-Token": matrix.tokens[persona], "Content-Type": "application/octet-stream"})
        elif method == "PATCH" and path.startswith("/image/"):
            r = matrix.call(persona, method, path, body,
                            {"Content-Type": "application/openstack-images-v2.1-json-patch"})
        else:
            r = matrix.call(persona, method, path, body, headers)
        if not matches(r.status_code, want[persona]):
            wrong.append(f"{persona}: {r.status_code} (want {want[persona]}) {r.text[:200]}")
        if r.status_code == 403:
            # Refusals name the rule, in the service's dialect (Swift's page
            # names none, as Swift's keystoneauth writes it).
            text = r.text.lower()
            assert "policy" in text or "authorized" in text or "access was denied" in text, r.text
        if persona == "other" and made and r.status_code < 300:
            assert made not in r.text, f"{kind} {op}: another project learned of {made}: {r.text[:300]}"
    assert not wrong, f"{kind} {op}:\n" + "\n".join(wrong)


def test_keypairs_belong_to_their_user(matrix):
    """Nova's keypair rules are the user's own: a reader makes and deletes its
    keypairs, and nobody else sees them."""
    name = matrix.keypair("reader")
    assert matrix.get("member", f"/compute/v2.1/os-keypairs/{name}").status_code == 404
    assert matrix.get("other", f"/compute/v2.1/os-keypairs/{name}").status_code == 404
    r = matrix.get("member", f"/compute/v2.1/os-keypairs?user_id={matrix.users['alpha-reader']}")
    assert r.status_code == 403, r.text
    assert matrix.call("reader", "DELETE", f"/compute/v2.1/os-keypairs/{name}").status_code in (202, 204)


def test_the_real_clients_meet_the_same_refusals(matrix, tmp_path):
    cloud, reader = matrix.cloud, matrix.rc["reader"]
    res = cloud.openstack("server", "create", "--flavor", "1", "--image", matrix.image_active, "--no-network",
                          "--os-compute-api-version", "2.37", "r1", rc=reader, check=False)
    assert res.returncode != 0 and "os_compute_api:servers:create" in res.stderr and "403" in res.stderr, res.stderr
    res = cloud.openstack("network", "create", "n1", rc=reader, check=False)
    assert res.returncode != 0 and "create_network" in res.stderr, res.stderr
    res = cloud.openstack("image", "create", "i1", rc=reader, check=False)
    assert res.returncode != 0 and "403" in res.stderr, res.stderr
    # The reader still reads.
    assert cloud.openstack("server", "list", rc=reader).returncode == 0
    assert cloud.openstack("network", "list", rc=reader).returncode == 0
    sid = matrix.server()
    res = cloud.openstack("server", "delete", sid, rc=reader, check=False)
    assert res.returncode != 0, res.stderr
    assert matrix.get("member", f"{S}/{sid}").status_code == 200
    res = cloud.openstack("server", "show", sid, rc=matrix.rc["other"], check=False)
    assert res.returncode != 0 and "No Server found" in res.stderr, res.stderr
