"""The native `nova` binary: the walk-through word for word, and the same
tables as python-novaclient, command by command, against one server."""

import http.server
import json
import os
import re
import shlex
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import BIN
from test_compute import image_id, table_rows

# The native client, built beside `oxistack`; python-novaclient's `nova` is
# the one on PATH (from the venv).
NATIVE = os.environ.get("OXISTACK_NOVA", str(Path(BIN).with_name("nova")))
PYTHON = "nova"


def run(cloud, binary, *args, env=None):
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env or cloud.rc_env(), timeout=120)


def normalise(text):
    """Request ids and timestamps differ from one call to the next."""
    text = re.sub(r"req-[0-9a-f-]{36}", "req-ID", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "TIMESTAMP", text)
    # python-novaclient announces its own deprecation on stderr.
    return "\n".join(line for line in text.splitlines() if "nova CLI is deprecated" not in line)


def test_the_walkthrough_word_for_word_with_the_native_client(cloud, tmp_path):
    image = image_id(cloud, tmp_path)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-N", "", "-f", str(home / ".ssh" / "id_rsa")], check=True)
    native_dir = Path(NATIVE).parent
    script = f"""
        set -e
        export PATH={shlex.quote(str(native_dir))}:/usr/bin:/bin
        cd {shlex.quote(str(home))}
        source {shlex.quote(str(cloud.data_dir / "admin-openrc.sh"))}
        nova list
        nova keypair-add --pub-key .ssh/id_rsa.pub SSHKEY
        nova flavor-list
        nova image-list
        nova boot --key-name SSHKEY --flavor 1 --image {image} instance1
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env={**env, "HOME": str(home)})
    assert out.returncode == 0, out.stderr
    # The image list shows the uploaded image, the boot prints the server.
    assert any(r[0] == image and r[2] == "ACTIVE" for r in table_rows(out.stdout) if len(r) == 4)
    assert "| key_name                             | SSHKEY" in out.stdout

    deadline = time.time() + 30
    while time.time() < deadline:
        rows = table_rows(run(cloud, NATIVE, "list").stdout)
        if rows and rows[0][2] == "ACTIVE":
            break
        time.sleep(0.3)
    assert rows[0][1] == "instance1" and rows[0][2] == "ACTIVE" and rows[0][4] == "Running"
    keys = table_rows(run(cloud, PYTHON, "keypair-list").stdout)
    assert keys[0][0] == "SSHKEY" and keys[0][1] == "ssh"


def test_same_tables_as_python_novaclient(cloud, tmp_path):
    image = image_id(cloud, tmp_path)
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-N", "", "-f", str(tmp_path / "id_rsa")], check=True)
    assert run(cloud, NATIVE, "keypair-add", "--pub-key", str(tmp_path / "id_rsa.pub"), "SSHKEY").returncode == 0
    boot = run(cloud, NATIVE, "boot", "--key-name", "SSHKEY", "--flavor", "m1.tiny", "--image", image,
               "--meta", "role=web", "instance1", "--poll")
    assert boot.returncode == 0, boot.stderr
    assert "Finished" in boot.stdout
    for setup in (["server-group-create", "web", "anti-affinity"], ["flavor-key", "1", "set", "hw:cpu_policy=shared"]):
        done = run(cloud, NATIVE, *setup)
        assert done.returncode == 0 and done.stderr == "", (setup, done.stderr)

    commands = [
        ["list"],
        ["list", "--fields", "name,status,OS-EXT-STS:vm_state,networks"],
        ["list", "--minimal"],
        ["show", "instance1"],
        ["flavor-list"],
        ["flavor-list", "--extra-specs"],
        ["flavor-show", "1"],
        ["flavor-show", "m1.small"],
        ["keypair-list"],
        ["keypair-show", "SSHKEY"],
        ["quota-show"],
        ["quota-defaults"],
        ["limits"],
        ["service-list"],
        ["hypervisor-list"],
        ["hypervisor-stats"],
        ["availability-zone-list"],
        ["server-group-list"],
        ["instance-action-list", "instance1"],
        ["interface-list", "instance1"],
        ["version-list"],
        ["show", "no-such-server"],
        ["keypair-show", "no-such-key"],
        ["flavor-show", "no-such-flavor"],
        ["boot", "--flavor", "1", "--image", "no-such-image", "vm"],
    ]
    env = cloud.rc_env()
    for args in commands:
        python = run(cloud, PYTHON, *args, env=env)
        native = run(cloud, NATIVE, *args, env=env)
        assert native.returncode == python.returncode, (args, native.stderr, python.stderr)
        assert normalise(native.stdout) == normalise(python.stdout), args
        assert normalise(native.stderr) == normalise(python.stderr), args
    # The failures above really were failures, and printed as such.
    missing = run(cloud, NATIVE, "show", "no-such-server", env=env)
    assert missing.returncode == 1
    assert missing.stderr == "ERROR (CommandError): No server with a name or ID of 'no-such-server' exists.\n"


def test_bad_configuration_and_input_fail_cleanly(cloud, tmp_path):
    env = cloud.rc_env()
    no_url = {k: v for k, v in env.items() if k != "OS_AUTH_URL"}
    out = run(cloud, NATIVE, "list", env=no_url)
    assert out.returncode == 1 and out.stderr.startswith("ERROR (CommandError): You must provide an auth url")

    wrong = run(cloud, NATIVE, "list", env={**env, "OS_PASSWORD": "wrong"})
    assert wrong.returncode == 1 and wrong.stderr.startswith("ERROR (Unauthorized): ")
    assert "wrong" not in wrong.stderr

    down = run(cloud, NATIVE, "list", env={**env, "OS_AUTH_URL": "http://127.0.0.1:9/identity/v3"})
    assert down.returncode == 1 and down.stderr.startswith("ERROR (ConnectFailure): Unable to establish connection")

    for args in (["list", "--limit", "many"], ["frobnicate"], ["boot"]):
        out = run(cloud, NATIVE, *args, env=env)
        assert out.returncode == 2 and "panicked" not in out.stderr, args

    no_flavor = run(cloud, NATIVE, "boot", "vm", env=env)
    assert no_flavor.returncode == 1 and no_flavor.stderr == "ERROR (CommandError): you need to specify a Flavor ID.\n"

    debug = run(cloud, NATIVE, "--debug", "list", env=env)
    assert debug.returncode == 0 and "REQ: curl" in debug.stderr
    assert env["OS_PASSWORD"] not in debug.stderr
    assert "X-Auth-Token: {SHA256}" in debug.stderr

    old = run(cloud, NATIVE, "list", env={**env, "OS_COMPUTE_API_VERSION": "2.200"})
    assert old.returncode == 1 and "UnsupportedVersion" in old.stderr


def test_a_named_cloud_from_clouds_yaml_and_secure_yaml(cloud, tmp_path):
    # The cloud's own clouds.yaml, its password moved to secure.yaml.
    lines = (cloud.data_dir / "clouds.yaml").read_text().splitlines()
    password = next(line.split(":", 1)[1].strip().strip('"') for line in lines if "password:" in line)
    (tmp_path / "clouds.yaml").write_text("\n".join(line for line in lines if "password:" not in line) + "\n")
    (tmp_path / "secure.yaml").write_text(f"clouds:\n  oxistack:\n    auth:\n      password: '{password}'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    out = subprocess.run([NATIVE, "flavor-list"], capture_output=True, text=True, cwd=tmp_path,
                         env={**env, "OS_CLOUD": "oxistack", "HOME": str(tmp_path)}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "m1.tiny" in out.stdout
    missing = subprocess.run([NATIVE, "list"], capture_output=True, text=True, cwd=tmp_path,
                             env={**env, "OS_CLOUD": "elsewhere", "HOME": str(tmp_path)}, timeout=60)
    assert missing.returncode == 1 and "Cloud elsewhere was not found." in missing.stderr


class TlsProxy(http.server.BaseHTTPRequestHandler):
    """Identity behind HTTPS: every request relayed to the plain server."""

    upstream = ""

    def relay(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.upstream + self.path, data=body, headers=headers, method=self.command)
        try:
            response = urllib.request.urlopen(request, timeout=30)
        except urllib.error.HTTPError as e:
            response = e
        data = response.read()
        self.send_response(response.status)
        for k, v in response.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = relay

    def log_message(self, *args):
        pass


def test_identity_over_tls_with_a_ca_certificate(cloud, tmp_path):
    # A private CA, and the proxy's certificate signed by it.
    ca, ca_key, cert, key = (tmp_path / n for n in ("ca.pem", "ca.key", "cert.pem", "key.pem"))
    (tmp_path / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    for command in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", ca_key,
         "-out", ca],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out",
         tmp_path / "server.csr"],
        ["x509", "-req", "-in", tmp_path / "server.csr", "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "1",
         "-extfile", tmp_path / "ext.cnf", "-out", cert],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    TlsProxy.upstream = cloud.url
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TlsProxy)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**cloud.rc_env(), "OS_AUTH_URL": f"https://127.0.0.1:{server.server_address[1]}/identity/v3"}
        untrusted = run(cloud, NATIVE, "list", env=env)
        assert untrusted.returncode == 1 and untrusted.stderr.startswith("ERROR (ConnectFailure)")
        trusted = run(cloud, NATIVE, "list", env={**env, "OS_CACERT": str(ca)})
        assert trusted.returncode == 0, trusted.stderr
        insecure = run(cloud, NATIVE, "--insecure", "list", env=env)
        assert insecure.returncode == 0, insecure.stderr
    finally:
        server.shutdown()


def test_native_commands_beyond_the_walkthrough(cloud, tmp_path):
    env = cloud.rc_env()

    def native(*args, ok=True):
        out = run(cloud, NATIVE, *args, env=env)
        if ok:
            assert out.returncode == 0, (args, out.stderr)
        return out

    def props(name):
        return dict((r[0], r[1]) for r in table_rows(native("show", name).stdout) if len(r) == 2)

    def until(name, status):
        deadline = time.time() + 30
        while props(name)["status"] != status:
            assert time.time() < deadline, f"{name} never became {status}"
            time.sleep(0.3)

    image = image_id(cloud, tmp_path)
    script = tmp_path / "user-data.sh"
    script.write_text("#!/bin/sh\necho hello\n")
    native("boot", "--flavor", "m1.tiny", "--image", "cirros", "--meta", "role=web", "--nic", "none",
           "--user-data", str(script), "--tags", "blue", "vm1", "--poll")
    native("meta", "vm1", "set", "tier=front", "extra=1")
    native("meta", "vm1", "delete", "extra")
    assert json.loads(props("vm1")["metadata"]) == {"role": "web", "tier": "front"}
    assert "Request to add tag green" in native("server-tag-add", "vm1", "green").stdout
    native("server-tag-delete", "vm1", "blue")
    assert table_rows(native("server-tag-list", "vm1").stdout) == [["green"]]
    native("update", "vm1", "--name", "web1", "--description", "front end")
    assert props("web1")["description"] == "front end"

    native("lock", "web1", "--reason", "maintenance")
    assert props("web1")["locked"] == "True" and props("web1")["locked_reason"] == "maintenance"
    native("unlock", "web1")
    native("rescue", "web1")
    until("web1", "RESCUE")
    native("unrescue", "web1")
    until("web1", "ACTIVE")
    native("resize", "web1", "m1.small", "--poll")
    until("web1", "VERIFY_RESIZE")
    native("resize-revert", "web1")
    until("web1", "ACTIVE")
    assert props("web1")["flavor:original_name"] == "m1.tiny"
    native("resize", "web1", "2")
    until("web1", "VERIFY_RESIZE")
    native("resize-confirm", "web1")
    until("web1", "ACTIVE")
    assert props("web1")["flavor:original_name"] == "m1.small"
    assert "adminPass" in native("rebuild", "web1", image, "--poll").stdout
    assert "Request to reboot server web1" in native("reboot", "--hard", "--poll", "web1").stdout
    native("shelve", "web1")
    until("web1", "SHELVED_OFFLOADED")
    native("unshelve", "web1")
    until("web1", "ACTIVE")
    native("image-create", "--poll", "web1", "web1-snap")
    snap = dict((r[0], r[1]) for r in table_rows(native("image-show", "web1-snap").stdout) if len(r) == 2)
    assert snap["status"] == "ACTIVE" and snap["image_type"] == "snapshot"
    actions = [r[0] for r in table_rows(native("instance-action-list", "web1").stdout)]
    assert actions[0] == "create" and "shelve" in actions and actions[-1] == "createImage"

    native("flavor-create", "m1.custom", "auto", "256", "2", "1", "--is-public", "false")
    native("flavor-key", "m1.custom", "set", "hw:mem_page_size=small")
    native("flavor-access-add", "m1.custom", env["OS_PROJECT_ID"])
    native("aggregate-create", "rack1", "zone-a")
    native("server-group-create", "web", "affinity")
    group = table_rows(native("server-group-list").stdout)[0][0]
    request = table_rows(native("instance-action-list", "web1").stdout)[0][1]
    native("quota-update", "--instances", "7", env["OS_PROJECT_ID"])

    # These too print what python-novaclient prints.
    for args in (["flavor-show", "m1.custom"], ["flavor-access-list", "--flavor", "m1.custom"],
                 ["flavor-list", "--all"], ["aggregate-list"], ["aggregate-show", "rack1"],
                 ["server-group-get", group], ["instance-action", "web1", request], ["quota-show"],
                 ["hypervisor-show", "oxistack"], ["server-tag-list", "web1"],
                 ["list", "--status", "ACTIVE", "--sort", "name:asc"], ["show", "--minimal", "web1"]):
        python, ours = run(cloud, PYTHON, *args, env=env), run(cloud, NATIVE, *args, env=env)
        assert (ours.returncode, normalise(ours.stdout)) == (python.returncode, normalise(python.stdout)), args

    # Usage grows by the second: the same window and servers, numbers close.
    for args in (["usage"], ["usage-list"]):
        python, ours = run(cloud, PYTHON, *args, env=env).stdout, native(*args).stdout
        assert python.splitlines()[0] == ours.splitlines()[0], args
        (p,), (o,) = table_rows(python), table_rows(ours)
        assert p[:-3] == o[:-3] and abs(float(p[-1]) - float(o[-1])) < 1, (p, o)

    native("flavor-access-remove", "m1.custom", env["OS_PROJECT_ID"])
    assert "m1.custom" in native("flavor-delete", "m1.custom").stdout
    assert "has been successfully deleted" in native("server-group-delete", group).stdout
    native("delete", "web1")
    deadline = time.time() + 30
    while table_rows(native("list").stdout) and time.time() < deadline:
        time.sleep(0.3)
    assert table_rows(native("list").stdout) == []


def test_generated_and_x509_keypairs(cloud, tmp_path):
    env = cloud.rc_env()
    # Before 2.92 Nova makes the key and hands its private half out once.
    for binary, name in ((PYTHON, "gen-python"), (NATIVE, "gen-native")):
        made = run(cloud, binary, "--os-compute-api-version", "2.91", "keypair-add", name, env=env)
        assert made.returncode == 0, made.stderr
        private = tmp_path / name
        private.write_text(made.stdout.strip() + "\n")
        private.chmod(0o600)
        derived = subprocess.run(["ssh-keygen", "-y", "-f", str(private)], capture_output=True, text=True, check=True)
        shown = run(cloud, binary, "keypair-show", name, env=env).stdout
        public = next(line for line in shown.splitlines() if line.startswith("Public key: "))
        assert public.split()[2:4] == derived.stdout.split()[:2]
    # From 2.92 a public key is required, and both clients say so alike.
    python, native = (run(cloud, b, "keypair-add", "nokey", env=env) for b in (PYTHON, NATIVE))
    assert python.returncode == native.returncode == 1
    assert normalise(native.stderr) == normalise(python.stderr)
    assert "'public_key' is a required property" in native.stderr

    # An X.509 certificate, fingerprinted as Nova does (SHA-1 of the DER).
    cert = tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=me",
                    "-keyout", str(tmp_path / "cert.key"), "-out", str(cert)], check=True, capture_output=True)
    added = run(cloud, NATIVE, "keypair-add", "--key-type", "x509", "--pub-key", str(cert), "cert1", env=env)
    assert added.returncode == 0, added.stderr
    sha1 = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", str(cert)],
                          capture_output=True, text=True, check=True).stdout.strip().split("=", 1)[1].lower()
    rows = {r[0]: r for r in table_rows(run(cloud, PYTHON, "keypair-list", env=env).stdout)}
    assert rows["cert1"][1:] == ["x509", sha1]
    bogus = run(cloud, NATIVE, "keypair-add", "--key-type", "x509", "--pub-key", str(tmp_path / "cert.key"), "bad",
                env=env)
    assert bogus.returncode == 1 and "Keypair data is invalid" in bogus.stderr

    # Without a certificate Nova makes one (2.2 to 2.91): an RSA key, answered
    # once, and a self-signed certificate for the user, kept as the public key.
    user = cloud.openstack("token", "issue", "-f", "value", "-c", "user_id").stdout.strip()
    for binary, name in ((PYTHON, "x509-python"), (NATIVE, "x509-native")):
        made = run(cloud, binary, "--os-compute-api-version", "2.2", "keypair-add", "--key-type", "x509", name, env=env)
        assert made.returncode == 0, made.stderr
        key = tmp_path / f"{name}.key"
        key.write_text(made.stdout.strip() + "\n")
        assert made.stdout.startswith("-----BEGIN PRIVATE KEY-----")
        shown = cloud.openstack_json("keypair", "show", name)
        assert shown["type"] == "x509", shown
        cert = tmp_path / f"{name}.pem"
        cert.write_text(cloud.openstack("keypair", "show", "--public-key", name).stdout.strip() + "\n")
        ssl = lambda *a: subprocess.run(["openssl", *a], capture_output=True, text=True, check=True).stdout.strip()
        assert ssl("x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", str(cert)) == f"subject=CN={user}"
        # Signed by its own key, and that key is the one handed out.
        assert ssl("verify", "-CAfile", str(cert), "-purpose", "sslclient", str(cert)).endswith(": OK")
        assert ssl("x509", "-noout", "-modulus", "-in", str(cert)) == ssl("rsa", "-noout", "-modulus", "-in", str(key))
        # (OpenSSL 3 writes the UPN as "UPN::<value>".)
        alt_name = ssl("x509", "-noout", "-ext", "subjectAltName", "-in", str(cert))
        assert alt_name.split("\n")[-1].strip() == f"othername: UPN::{user}@localhost", alt_name
        sha1 = ssl("x509", "-noout", "-fingerprint", "-sha1", "-in", str(cert)).split("=", 1)[1].lower()
        assert shown["fingerprint"] == sha1
