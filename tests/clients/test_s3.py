"""S3 through Object Storage, with the clients S3 users run: awscli and
boto3 from PyPI signing with SigV4 under EC2 credentials made by
`openstack ec2 credentials create`, Terraform's AWS provider (from the
machine's filesystem mirror), and rclone (Debian) over Swift, against a
freshly started `oxistack serve`."""

import filecmp
import json
import os
import shutil
import subprocess
from pathlib import Path

import requests

from test_object import swift

TF_MIRROR = Path("/opt/tf-plugins")


def ec2_env(cloud, rc=None):
    """The environment of an S3 user: a new EC2 credential of the RC file's
    user on its project, as `openstack ec2 credentials create` makes it."""
    cred = cloud.openstack_json("ec2", "credentials", "create", rc=rc)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "AWS_"))}
    env.update(AWS_ACCESS_KEY_ID=cred["access"], AWS_SECRET_ACCESS_KEY=cred["secret"],
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    return env, cred


def aws(cloud, env, *args, check=True):
    # `s3` commands print a progress line per file: errors only.
    quiet = ["--only-show-errors"] if args[0] == "s3" and args[1] in ("sync", "cp", "rm") else []
    res = subprocess.run(["aws", "--endpoint-url", f"{cloud.url}/s3", *args, *quiet],
                         capture_output=True, text=True, env=env, timeout=300)
    if check and res.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({res.returncode}):\n{res.stderr}")
    return res


def boto(cloud, env):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=f"{cloud.url}/s3", aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


def tree(root: Path):
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("alpha\n")
    (root / "docs" / "deep" / "b.json").write_text('{"b": 1}\n')
    (root / "empty.bin").write_bytes(b"")
    # Past awscli's 8 MiB threshold: a multipart upload.
    (root / "big.bin").write_bytes(os.urandom(20 << 20))


def same_tree(a: Path, b: Path):
    cmp = filecmp.dircmp(a, b)
    assert not (cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files), cmp.report()
    for sub in cmp.common_dirs:
        same_tree(a / sub, b / sub)
    for name in cmp.common_files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_awscli_syncs_a_tree_up_and_back_through_s3_and_swift_sees_it(cloud, tmp_path):
    env, _ = ec2_env(cloud)
    up = tmp_path / "up"
    tree(up)
    aws(cloud, env, "s3", "mb", "s3://photos")
    aws(cloud, env, "s3", "sync", str(up), "s3://photos/set")
    listed = aws(cloud, env, "s3", "ls", "--recursive", "s3://photos").stdout
    assert "set/big.bin" in listed and "set/docs/deep/b.json" in listed, listed
    back = tmp_path / "back"
    aws(cloud, env, "s3", "sync", "s3://photos/set", str(back))
    same_tree(up, back)
    # One data model: Swift lists the same objects, and serves the
    # multipart upload whole.
    assert swift(cloud, "list", "photos").stdout.split() == [
        "set/big.bin", "set/docs/a.txt", "set/docs/deep/b.json", "set/empty.bin"]
    out = tmp_path / "via-swift.bin"
    swift(cloud, "download", "photos", "set/big.bin", "-o", str(out))
    assert out.read_bytes() == (up / "big.bin").read_bytes()
    # Buckets list without the containers of the uploads' parts; removing
    # the tree takes the parts too.
    assert aws(cloud, env, "s3", "ls").stdout.split()[-1] == "photos"
    aws(cloud, env, "s3", "rm", "--recursive", "s3://photos/set")
    assert swift(cloud, "list", "photos+segments").stdout.split() == []
    aws(cloud, env, "s3", "rb", "s3://photos")
    res = aws(cloud, env, "s3api", "head-bucket", "--bucket", "photos", check=False)
    assert res.returncode != 0 and "404" in res.stderr, res.stderr


def test_boto3_speaks_s3s_api_and_errors(cloud, tmp_path):
    from botocore.exceptions import ClientError
    env, cred = ec2_env(cloud)
    s3 = boto(cloud, env)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="dir/one.txt", Body=b"first object", ContentType="text/plain",
                  Metadata={"owner": "team-a"})
    for i in range(3):
        s3.put_object(Bucket="data", Key=f"dir/sub/{i}", Body=b"x" * i)
    head = s3.head_object(Bucket="data", Key="dir/one.txt")
    assert head["ContentLength"] == 12 and head["Metadata"] == {"owner": "team-a"}, head
    assert head["ContentType"] == "text/plain"
    got = s3.get_object(Bucket="data", Key="dir/one.txt", Range="bytes=6-11")
    assert got["Body"].read() == b"object" and got["ContentRange"] == "bytes 6-11/12"
    listed = s3.list_objects_v2(Bucket="data", Prefix="dir/", Delimiter="/")
    assert [c["Key"] for c in listed["Contents"]] == ["dir/one.txt"], listed
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["dir/sub/"], listed
    page = s3.list_objects_v2(Bucket="data", MaxKeys=2)
    assert page["IsTruncated"] and page["KeyCount"] == 2, page
    rest = s3.list_objects_v2(Bucket="data", ContinuationToken=page["NextContinuationToken"])
    assert [c["Key"] for c in page["Contents"] + rest["Contents"]] == [
        "dir/one.txt", "dir/sub/0", "dir/sub/1", "dir/sub/2"]
    s3.copy_object(Bucket="data", Key="copy.txt", CopySource={"Bucket": "data", "Key": "dir/one.txt"})
    assert s3.get_object(Bucket="data", Key="copy.txt")["Body"].read() == b"first object"
    # A presigned URL works with no client at all, until it expires.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "copy.txt"}, ExpiresIn=60)
    assert requests.get(url, timeout=10).content == b"first object"
    assert requests.get(url.replace("copy.txt", "dir/one.txt"), timeout=10).status_code == 403
    # S3's errors, as S3's XML.
    try:
        s3.get_object(Bucket="data", Key="missing")
        raise AssertionError("a missing key was served")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchKey", e.response
    try:
        s3.delete_bucket(Bucket="data")
        raise AssertionError("a bucket with objects was deleted")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "BucketNotEmpty", e.response
    try:
        s3.put_object(Bucket="data", Key="bad", Body=b"data", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
        raise AssertionError("a body that is not its Content-MD5 was stored")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "BadDigest", e.response
    wrong = boto(cloud, {**env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    try:
        wrong.list_buckets()
        raise AssertionError("a wrong secret was let in")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "SignatureDoesNotMatch", e.response
    deleted = s3.delete_objects(Bucket="data", Delete={"Objects": [
        {"Key": "copy.txt"}, {"Key": "dir/one.txt"}, {"Key": "never-there"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["copy.txt", "dir/one.txt", "never-there"], deleted
    # A credential deleted is refused at once.
    cloud.openstack("ec2", "credentials", "delete", cred["access"])
    try:
        s3.list_buckets()
        raise AssertionError("a deleted credential was let in")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidAccessKeyId", e.response


def test_an_s3_user_reaches_only_its_own_projects_buckets(cloud):
    from botocore.exceptions import ClientError
    u1 = cloud.add_user("u1", "p1", "member")
    mine = boto(cloud, ec2_env(cloud, rc=u1)[0])
    theirs = boto(cloud, ec2_env(cloud, rc=cloud.add_user("u2", "p2", "member"))[0])
    reader = boto(cloud, ec2_env(cloud, rc=cloud.add_user("r1", "p1", "reader"))[0])
    mine.create_bucket(Bucket="private")
    mine.put_object(Bucket="private", Key="secret.txt", Body=b"p1 only")
    assert [b["Name"] for b in theirs.list_buckets()["Buckets"]] == []
    # Another project's bucket of the same name is its own.
    theirs.create_bucket(Bucket="private")
    assert theirs.list_objects_v2(Bucket="private")["KeyCount"] == 0
    # p1's reader reads and writes nothing.
    assert reader.get_object(Bucket="private", Key="secret.txt")["Body"].read() == b"p1 only"
    try:
        reader.put_object(Bucket="private", Key="x", Body=b"x")
        raise AssertionError("a reader wrote")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied", e.response
    # An EC2 credential is its user's to make: not for someone else.
    u2 = cloud.openstack_json("user", "show", "u2")["id"]
    res = cloud.openstack("ec2", "credentials", "create", "--user", u2, rc=u1, check=False)
    assert res.returncode != 0 and ("403" in res.stderr or "not authorized" in res.stderr.lower()), res.stderr
    # An unsigned request reaches no bucket.
    assert requests.get(f"{cloud.url}/s3/private/secret.txt", timeout=10).status_code == 403


def test_terraform_makes_and_destroys_a_bucket_and_an_object(cloud, tmp_path):
    """Terraform's AWS provider (5.100, from the machine's filesystem mirror,
    no network) against the S3 endpoint: apply, a plan with no changes,
    destroy."""
    assert shutil.which("terraform"), "terraform is on these machines' PATH"
    assert (TF_MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir(), "the AWS provider mirror is missing"
    env, _ = ec2_env(cloud)
    (tmp_path / "cli.tfrc").write_text(f"""
provider_installation {{
  filesystem_mirror {{
    path    = "{TF_MIRROR}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
""")
    work = tmp_path / "tf"
    work.mkdir()
    (work / "main.tf").write_text("""
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
variable "endpoint" { type = string }
provider "aws" {
  region                      = "us-east-1"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints { s3 = var.endpoint }
}
resource "aws_s3_bucket" "site" {
  bucket = "tf-site"
}
resource "aws_s3_object" "index" {
  bucket       = aws_s3_bucket.site.id
  key          = "index.html"
  content      = "<h1>made by terraform</h1>"
  content_type = "text/html"
}
output "etag" { value = aws_s3_object.index.etag }
""")
    tf_env = {**env, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": str(tmp_path / "cli.tfrc"),
              "TF_VAR_endpoint": f"{cloud.url}/s3"}

    def tf(*args):
        res = subprocess.run(["terraform", *args, "-input=false", "-no-color"], cwd=work, env=tf_env,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode in (0, 2) if "-detailed-exitcode" in args else res.returncode == 0, res.stdout + res.stderr
        return res

    tf("init")
    tf("apply", "-auto-approve")
    s3 = boto(cloud, env)
    got = s3.get_object(Bucket="tf-site", Key="index.html")
    assert got["Body"].read() == b"<h1>made by terraform</h1>" and got["ContentType"] == "text/html"
    assert tf("plan", "-detailed-exitcode").returncode == 0, "a second plan wants changes"
    tf("destroy", "-auto-approve")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == []


def test_rclone_syncs_a_tree_through_swift(cloud, tmp_path):
    """rclone's swift backend with Keystone auth from the environment (an
    openrc sourced), up and back, then `rclone check`."""
    up = tmp_path / "up"
    tree(up)
    conf = tmp_path / "rclone.conf"
    conf.write_text("[cloud]\ntype = swift\nenv_auth = true\n")
    env = {**cloud.rc_env(), "RCLONE_CONFIG": str(conf)}

    def rclone(*args):
        res = subprocess.run(["rclone", *args], capture_output=True, text=True, env=env, timeout=300)
        assert res.returncode == 0, res.stderr
        return res

    rclone("mkdir", "cloud:synced")
    rclone("sync", str(up), "cloud:synced")
    back = tmp_path / "back"
    rclone("sync", "cloud:synced", str(back))
    same_tree(up, back)
    assert "0 differences found" in rclone("check", str(up), "cloud:synced").stderr
    # A change on one side goes over on the next sync, and a removal too.
    (up / "docs" / "a.txt").write_text("changed\n")
    (up / "empty.bin").unlink()
    rclone("sync", str(up), "cloud:synced")
    listed = json.loads(rclone("lsjson", "-R", "cloud:synced").stdout)
    assert sorted(e["Path"] for e in listed if not e["IsDir"]) == ["big.bin", "docs/a.txt", "docs/deep/b.json"]
    assert swift(cloud, "list", "synced").stdout.split() == ["big.bin", "docs/a.txt", "docs/deep/b.json"]
