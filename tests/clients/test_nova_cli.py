"""The native `nova` binary: the walk-through word for word, and the same
tables as python-novaclient, command by command, against one server."""

import os
import re
import shlex
import subprocess
import time
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
    run(cloud, NATIVE, "server-group-create", "web", "anti-affinity")
    run(cloud, NATIVE, "flavor-key", "1", "set", "hw:cpu_policy=shared")

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
