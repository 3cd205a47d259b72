#!/usr/bin/env python3
"""Writes the corpus of good and hostile images the inspector is tested on.

Real files from qemu-img, and hand-made variants of them for what qemu-img
will not write. The files are kept in the repository so that the tests need
no qemu-img; run this again (in this folder) only to change the corpus.
"""
import os
import struct
import subprocess


def qemu_img(*args):
    subprocess.run(["qemu-img", "create", "-q", *args], check=True)


def patch(src, dst, edits):
    data = bytearray(open(src, "rb").read())
    for offset, value in edits:
        data[offset:offset + len(value)] = value
    open(dst, "wb").write(data)


def truncate(path, size):
    with open(path, "r+b") as f:
        f.truncate(size)


# Good images, each as qemu-img writes it.
qemu_img("-f", "qcow2", "-o", "cluster_size=512", "good.qcow2", "1M")
qemu_img("-f", "qcow2", "-o", "cluster_size=512,compat=0.10", "good-v2.qcow2", "1M")
qemu_img("-f", "vmdk", "-o", "subformat=monolithicSparse", "good-sparse.vmdk", "1M")
qemu_img("-f", "vmdk", "-o", "subformat=streamOptimized", "good-stream.vmdk", "1M")
qemu_img("-f", "vpc", "-o", "subformat=dynamic", "good-dynamic.vhd", "1M")
qemu_img("-f", "vpc", "-o", "subformat=fixed", "good-fixed.vhd", "32K")
qemu_img("-f", "vdi", "good.vdi", "1M")
open("good.raw", "wb").write(b"\0" * 4096)

# qcow2 that name other files.
qemu_img("-f", "qcow2", "-o", "cluster_size=512", "-b", "/etc/passwd", "-F", "raw", "hostile-backing-file.qcow2", "1M")
qemu_img("-f", "qcow2", "-o", "cluster_size=512", "-b",
         'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/passwd"}}', "-F", "raw",
         "hostile-backing-json.qcow2", "1M")
qemu_img("-f", "qcow2", "-o", "cluster_size=512", "-u", "-b", "nbd://127.0.0.1:1/x", "-F", "raw",
         "hostile-backing-protocol.qcow2", "1M")
qemu_img("-f", "qcow2", "-o", "cluster_size=512,data_file=ext-data", "hostile-data-file.qcow2", "1M")
os.remove("ext-data")
# A backing file named only by its header extension's format, offset zeroed.
patch("hostile-backing-file.qcow2", "hostile-backing-extension.qcow2", [(8, b"\0" * 12)])
# Damaged or unknown headers.
patch("good.qcow2", "hostile-truncated.qcow2", [])
truncate("hostile-truncated.qcow2", 60)
patch("good.qcow2", "hostile-header-length.qcow2", [(100, struct.pack(">I", 0xFFFFFFFF))])
patch("good.qcow2", "hostile-unknown-feature.qcow2", [(72, struct.pack(">Q", 1 << 7))])
patch("good.qcow2", "hostile-encrypted.qcow2", [(32, struct.pack(">I", 2))])
patch("good.qcow2", "hostile-cluster-bits.qcow2", [(20, struct.pack(">I", 40))])
patch("good.qcow2", "hostile-l1-outside.qcow2", [(40, struct.pack(">Q", 1 << 40))])
patch("good.qcow2", "hostile-huge-size.qcow2", [(24, struct.pack(">Q", 1 << 62))])

# VMDK descriptor files: nothing but names of other files.
flat = '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\n' \
       '# Extent description\nRW 2048 FLAT "{}" 0\n\nddb.virtualHWVersion = "4"\n'
open("hostile-descriptor-relative.vmdk", "w").write(flat.format("../admin-openrc.sh"))
open("hostile-descriptor-absolute.vmdk", "w").write(flat.format("/etc/passwd"))
qemu_img("-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "hostile-multi-extent.vmdk", "1M")
os.remove("hostile-multi-extent-s001.vmdk")
qemu_img("-f", "vmdk", "-o", "subformat=monolithicFlat", "hostile-flat-qemu.vmdk", "1M")
os.remove("hostile-flat-qemu-flat.vmdk")


def sparse_with_descriptor(dst, text, capacity=None):
    """good-sparse.vmdk with its embedded descriptor (at sector 1) replaced."""
    data = bytearray(open("good-sparse.vmdk", "rb").read())
    size = struct.unpack_from("<Q", data, 36)[0] * 512
    body = text.encode().ljust(size, b"\0")[:size]
    data[512:512 + size] = body
    if capacity is not None:
        struct.pack_into("<Q", data, 12, capacity)
    open(dst, "wb").write(data)


own = open("good-sparse.vmdk", "rb").read()[512:512 + 1024].split(b"\0")[0].decode()
sparse_with_descriptor("hostile-sparse-capacity0.vmdk", flat.format("/etc/passwd"), capacity=0)
sparse_with_descriptor("hostile-sparse-parent.vmdk",
                       own.replace("parentCID=ffffffff", 'parentCID=12345678\nparentFileNameHint="/etc/passwd"'))
sparse_with_descriptor("hostile-sparse-two-extents.vmdk",
                       own.replace('SPARSE "good-sparse.vmdk"', 'SPARSE "good-sparse.vmdk"\nRW 2048 FLAT "/etc/passwd" 0'))
sparse_with_descriptor("hostile-sparse-flat-extent.vmdk", own.replace('SPARSE "good-sparse.vmdk"', 'FLAT "/etc/passwd" 0'))
sparse_with_descriptor("hostile-sparse-monolithicflat.vmdk", own.replace("monolithicSparse", "monolithicFlat"))

# A differencing VHD: the disk type, in the copy of the footer at the start and at the end.
data = bytearray(open("good-dynamic.vhd", "rb").read())
struct.pack_into(">I", data, 60, 4)
struct.pack_into(">I", data, len(data) - 512 + 60, 4)
open("hostile-differencing.vhd", "wb").write(data)
# A differencing VDI.
patch("good.vdi", "hostile-differencing.vdi", [(0x4C, struct.pack("<I", 4))])

# Formats that are not inspected: only their first bytes are kept.
qemu_img("-f", "vhdx", "hostile-not-inspected.vhdx", "1M")
truncate("hostile-not-inspected.vhdx", 4096)
qemu_img("-f", "qed", "hostile-qed.qed", "1M")
truncate("hostile-qed.qed", 4096)
