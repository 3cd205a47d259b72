"""Identity with python-openstackclient, keystoneauth and plain HTTP, against a
freshly started `oxistack serve`."""

import json
import stat
import subprocess
import time

import requests
from keystoneauth1 import session
from keystoneauth1.identity import v2

from conftest import BIN, Cloud


def admin_token(cloud):
    env = cloud.rc_env()
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": env["OS_USERNAME"], "domain": {"name": "Default"}, "password": env["OS_PASSWORD"]}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    r = requests.post(f"{cloud.url}/identity/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"]


def test_openrc_files_are_private_and_complete(cloud):
    rc = cloud.data_dir / "admin-openrc.sh"
    assert stat.S_IMODE(rc.stat().st_mode) == 0o600
    assert stat.S_IMODE((cloud.data_dir / "clouds.yaml").stat().st_mode) == 0o600
    env = cloud.rc_env()
    for var in ["OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME", "OS_USER_DOMAIN_NAME",
                "OS_PROJECT_DOMAIN_ID", "OS_REGION_NAME", "OS_INTERFACE"]:
        assert env.get(var), var
    assert env["OS_IDENTITY_API_VERSION"] == "3"
    assert env["OS_AUTH_URL"] == f"{cloud.url}/identity/v3"


def test_walkthrough_with_openstackclient(cloud):
    token = cloud.openstack_json("token", "issue")
    assert token["project_id"] and token["user_id"] and token["id"]

    catalog = cloud.openstack_json("catalog", "list")
    identity = [s for s in catalog if s["Type"] == "identity"]
    assert len(identity) == 1
    interfaces = {e["interface"] for e in identity[0]["Endpoints"]}
    assert interfaces == {"public", "internal", "admin"}

    created = cloud.openstack_json("project", "create", "--description", "first", "demo")
    assert created["name"] == "demo" and created["description"] == "first"
    names = [p["Name"] for p in cloud.openstack_json("project", "list")]
    assert sorted(names) == ["admin", "demo"]
    assert cloud.openstack_json("project", "show", "demo")["id"] == created["id"]
    cloud.openstack("project", "set", "--description", "second", "demo")
    assert cloud.openstack_json("project", "show", "demo")["description"] == "second"

    user = cloud.openstack_json("user", "create", "--password", "s3cret", "--project", "demo", "alice")
    assert user["name"] == "alice" and "password" not in user
    cloud.openstack("role", "add", "--project", "demo", "--user", "alice", "member")
    rows = cloud.openstack_json("role", "assignment", "list", "--names")
    assert {"Role": "member", "User": "alice@Default", "Project": "demo@Default"}.items() <= next(
        r for r in rows if r["User"] == "alice@Default").items()

    alice = cloud.user_rc("alice", "demo", "s3cret")
    alice_token = cloud.openstack_json("token", "issue", rc=alice)
    assert alice_token["user_id"] == user["id"] and alice_token["project_id"] == created["id"]
    refused = cloud.openstack("user", "list", rc=alice, check=False)
    assert refused.returncode != 0
    assert "403" in refused.stderr and "identity:list_users" in refused.stderr

    # Deleting the project takes its assignments and its tokens with it.
    cloud.openstack("project", "delete", "demo")
    names = [p["Name"] for p in cloud.openstack_json("project", "list")]
    assert names == ["admin"]
    r = requests.get(f"{cloud.url}/identity/v3/auth/tokens",
                     headers={"X-Auth-Token": admin_token(cloud), "X-Subject-Token": alice_token["id"]})
    assert r.status_code == 404


def test_v2_login_through_keystoneauth(cloud):
    env = cloud.rc_env()
    auth = v2.Password(auth_url=f"{cloud.url}/identity/v2.0", username="admin", password=env["OS_PASSWORD"],
                       tenant_name="admin")
    sess = session.Session(auth=auth)
    access = auth.get_access(sess)
    assert access.version == "v2.0"
    assert access.project_name == "admin"
    assert sorted(access.role_names) == ["admin", "member", "reader"]
    assert sess.get_endpoint(service_type="identity", interface="public") == f"{cloud.url}/identity"
    # The v2.0 token works on the v3 API.
    r = requests.get(f"{cloud.url}/identity/v3/projects", headers={"X-Auth-Token": sess.get_token()})
    assert r.status_code == 200 and len(r.json()["projects"]) == 1


def test_bad_input_gets_keystone_errors_and_the_server_keeps_serving(cloud):
    env = cloud.rc_env()
    tokens = f"{cloud.url}/identity/v3/auth/tokens"
    wrong = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": "wrong"}}}}}
    r = requests.post(tokens, json=wrong)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401 and r.json()["error"]["title"] == "Unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Keystone uri=")

    r = requests.post(tokens, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert set(r.json()["error"]) == {"code", "title", "message"}

    r = requests.post(f"{cloud.url}/identity/v3/projects", json={"project": {"name": 7}},
                      headers={"X-Auth-Token": admin_token(cloud)})
    assert r.status_code == 400 and "name" in r.json()["error"]["message"]

    # A revoked token: 404 as a subject, 401 as a credential.
    admin = admin_token(cloud)
    victim = admin_token(cloud)
    r = requests.delete(tokens, headers={"X-Auth-Token": admin, "X-Subject-Token": victim})
    assert r.status_code == 204
    r = requests.get(tokens, headers={"X-Auth-Token": admin, "X-Subject-Token": victim})
    assert r.status_code == 404 and r.json()["error"]["title"] == "Not Found"
    assert requests.head(tokens, headers={"X-Auth-Token": admin, "X-Subject-Token": victim}).status_code == 404
    r = requests.get(f"{cloud.url}/identity/v3/users", headers={"X-Auth-Token": victim})
    assert r.status_code == 401
    r = requests.get(f"{cloud.url}/identity/v3/users", headers={"X-Auth-Token": "garbage"})
    assert r.status_code == 401

    # Every answer carries a request id; the server still works.
    assert r.headers["x-openstack-request-id"].startswith("req-")
    assert cloud.openstack_json("token", "issue")["id"]
    assert env["OS_PASSWORD"] not in cloud.log.read_text()


def test_tokens_expire(tmp_path):
    cloud = Cloud(tmp_path / "data").start("--token-ttl", "2")
    try:
        token = admin_token(cloud)
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        assert requests.get(f"{cloud.url}/identity/v3/auth/tokens", headers=headers).status_code == 200
        import time
        time.sleep(2.5)
        r = requests.get(f"{cloud.url}/identity/v3/users", headers={"X-Auth-Token": token})
        assert r.status_code == 401
    finally:
        cloud.stop()


def test_password_change_and_disable_revoke_tokens(cloud):
    admin = {"X-Auth-Token": admin_token(cloud)}
    base = f"{cloud.url}/identity/v3"
    u = requests.post(f"{base}/users", headers=admin, json={"user": {"name": "bob", "password": "one"}}).json()["user"]
    pid = requests.get(f"{base}/projects?name=admin", headers=admin).json()["projects"][0]["id"]
    role = requests.get(f"{base}/roles?name=reader", headers=admin).json()["roles"][0]["id"]
    assert requests.put(f"{base}/projects/{pid}/users/{u['id']}/roles/{role}", headers=admin).status_code == 204

    def login(password):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": u["id"], "password": password}}},
                         "scope": {"project": {"id": pid}}}}
        return requests.post(f"{base}/auth/tokens", json=body)

    first = login("one")
    assert first.status_code == 201
    assert sorted(r["name"] for r in first.json()["token"]["roles"]) == ["reader"]
    t1 = {"X-Auth-Token": first.headers["X-Subject-Token"]}
    assert requests.get(f"{base}/users/{u['id']}", headers=t1).status_code == 200
    r = requests.post(f"{base}/users/{u['id']}/password",
                      json={"user": {"original_password": "one", "password": "two"}})
    assert r.status_code == 204
    assert requests.get(f"{base}/users/{u['id']}", headers=t1).status_code == 401
    assert login("one").status_code == 401
    second = login("two")
    assert second.status_code == 201
    t2 = {"X-Auth-Token": second.headers["X-Subject-Token"]}
    r = requests.patch(f"{base}/users/{u['id']}", headers=admin, json={"user": {"enabled": False}})
    assert r.status_code == 200 and r.json()["user"]["enabled"] is False
    assert requests.get(f"{base}/users/{u['id']}", headers=t2).status_code == 401
    assert login("two").status_code == 401


def test_restart_keeps_everything_and_a_second_server_is_refused(cloud):
    cloud.openstack("project", "create", "kept")
    second = subprocess.run(Cloud(cloud.data_dir).serve_args(), capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert "already using the data dir" in second.stderr
    password = cloud.rc_env()["OS_PASSWORD"]
    cloud.stop()
    cloud.start()
    assert cloud.rc_env()["OS_PASSWORD"] == password
    assert "kept" in [p["Name"] for p in cloud.openstack_json("project", "list")]


def test_version_discovery(cloud):
    r = requests.get(f"{cloud.url}/identity/")
    assert r.status_code == 300
    values = r.json()["versions"]["values"]
    v3 = next(v for v in values if v["id"].startswith("v3."))
    assert v3["status"] == "stable"
    assert v3["links"][0]["href"] == f"{cloud.url}/identity/v3/"
    assert v3["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"
    assert requests.get(f"{cloud.url}/identity/v3").json()["version"]["id"] == v3["id"]


def test_oxistack_openrc_prompts_without_a_password(cloud):
    out = subprocess.run([BIN, "openrc", "--data-dir", str(cloud.data_dir), *cloud.database_args(), "--user", "admin",
                          "--project", "admin"], capture_output=True, text=True, check=True).stdout
    assert "read -sr OS_PASSWORD_INPUT" in out and "OS_AUTH_URL='" in out
    bad = subprocess.run([BIN, "openrc", "--data-dir", str(cloud.data_dir), *cloud.database_args(), "--user",
                          "nobody", "--project", "admin"], capture_output=True, text=True)
    assert bad.returncode != 0 and "nobody" in bad.stderr


def test_application_credential_login_with_openstackclient(cloud):
    cred = cloud.openstack_json("application", "credential", "create", "--secret", "app-s3cret", "--role", "reader",
                                "monitoring")
    assert cred["Secret"] == "app-s3cret"
    env = {k: v for k, v in cloud.rc_env().items() if not k.startswith("OS_")}
    env.update({
        "OS_AUTH_TYPE": "v3applicationcredential",
        "OS_AUTH_URL": f"{cloud.url}/identity/v3",
        "OS_APPLICATION_CREDENTIAL_ID": cred["ID"],
        "OS_APPLICATION_CREDENTIAL_SECRET": "app-s3cret",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_REGION_NAME": "RegionOne",
    })
    token = json.loads(cloud.openstack("token", "issue", "-f", "json", env=env).stdout)
    assert token["project_id"] == cloud.rc_env()["OS_PROJECT_ID"]
    # The credential delegates reader only: reading works, writing does not.
    assert cloud.openstack("project", "list", env=env).returncode == 0
    refused = cloud.openstack("project", "create", "nope", env=env, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr
    env["OS_APPLICATION_CREDENTIAL_SECRET"] = "wrong"
    assert cloud.openstack("token", "issue", env=env, check=False).returncode != 0


def test_security_compliance_as_tempest_configures_it(tmp_path):
    """Keystone's security compliance options with tempest's settings: two
    failed logins lock for 5 s, the last two passwords must differ, a
    pattern every password matches; off by default (the other tests)."""
    cloud = Cloud(tmp_path / "data").start(
        "--lockout-failure-attempts", "2", "--lockout-duration", "5", "--unique-last-password-count", "2",
        "--minimum-password-age", "0", "--password-regex", "^.{8,}$",
        "--password-regex-description", "at least 8 characters")
    try:
        url = f"{cloud.url}/identity/v3"
        cloud.openstack("user", "create", "--password", "first-pass", "carol")
        uid = cloud.openstack_json("user", "show", "carol")["id"]
        refused = cloud.openstack("user", "create", "--password", "short", "dave", check=False)
        assert refused.returncode != 0 and "at least 8 characters" in refused.stderr, refused.stderr

        def login(pw):
            return requests.post(f"{url}/auth/tokens", json={"auth": {"identity": {"methods": ["password"],
                "password": {"user": {"id": uid, "password": pw}}}}})

        assert login("first-pass").status_code == 201
        assert login("wrong-1").status_code == 401
        assert login("wrong-2").status_code == 401
        locked = login("first-pass")
        assert locked.status_code == 401 and f"The account is locked for user: {uid}." in locked.text, locked.text
        time.sleep(5.5)
        assert login("first-pass").status_code == 201

        def change(original, new):
            return requests.post(f"{url}/users/{uid}/password",
                                 json={"user": {"original_password": original, "password": new}})

        r = change("first-pass", "first-pass")
        assert r.status_code == 400 and "identical to a previous password" in r.text, r.text
        assert change("first-pass", "second-pass").status_code == 204
        r = change("second-pass", "tiny")
        assert r.status_code == 400 and "does not meet the requirements" in r.text, r.text
        assert login("second-pass").status_code == 201
    finally:
        cloud.stop()
