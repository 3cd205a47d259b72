#!/usr/bin/env bash
# Builds Oxistack's test image, a CirrOS-like guest made of Debian packages:
# the Debian cloud kernel, busybox, dropbear and guest/rc as init, on a
# bootable disk (MBR, a FAT32 partition with syslinux) written as qcow2.
# No loop mounts, no root file system of the host touched.
#
#   scripts/build-test-image.sh [OUT_DIR]     (default ~/.cache/oxistack/guest)
#
# Writes OUT_DIR/oxistack-test.qcow2 and prints its path; does nothing when
# the image is already there and built from the same sources.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/oxistack/guest}
IMAGE=$OUT/oxistack-test.qcow2
STAMP=$(cat "$HERE/scripts/build-test-image.sh" "$HERE/guest/rc" | sha256sum | cut -c1-16)
if [ -f "$IMAGE" ] && [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$STAMP" ]; then
    echo "$IMAGE"
    exit 0
fi

need=()
for tool in busybox:busybox-static dropbear:dropbear-bin syslinux:syslinux mcopy:mtools mkfs.vfat:dosfstools \
    sfdisk:fdisk cpio:cpio depmod:kmod qemu-img:qemu-utils; do
    command -v "${tool%%:*}" >/dev/null || PATH=$PATH:/sbin:/usr/sbin command -v "${tool%%:*}" >/dev/null \
        || need+=("${tool#*:}")
done
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || need+=(syslinux-common)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
export PATH=$PATH:/sbin:/usr/sbin

WORK=$(mktemp -d)
chmod 755 "$WORK"
mkdir -m 777 "$WORK/download"   # apt-get download writes as the _apt user
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# The kernel and its modules, unpacked from Debian's package (not installed).
KPKG=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
(cd "$WORK/download" && apt-get download -qq "$KPKG" >&2)
dpkg-deb -x "$WORK/download/$KPKG"_*.deb "$WORK/kernel"
KVER=${KPKG#linux-image-}
KROOT=$WORK/kernel
depmod -b "$KROOT" "$KVER"

ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc/udhcpc,etc/acpi/PWRF,proc,sys,dev,run,tmp,root/.ssh,var/log,var/run,mnt}
chmod 1777 "$ROOT/tmp"
chmod 700 "$ROOT/root" "$ROOT/root/.ssh"

cp "$(command -v busybox)" "$ROOT/bin/busybox"
for applet in $("$ROOT/bin/busybox" --list-full); do
    [ -e "$ROOT/$applet" ] || { mkdir -p "$ROOT/$(dirname "$applet")"; ln -s /bin/busybox "$ROOT/$applet"; }
done
ln -s /bin/busybox "$ROOT/init"

# dropbear is linked dynamically: its libraries come along.
for bin in "$(command -v dropbear)" "$(command -v dropbearkey)"; do
    cp "$bin" "$ROOT$bin"
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
        mkdir -p "$ROOT$(dirname "$lib")"
        cp -Ln "$lib" "$ROOT$lib"
    done
done

mkdir -p "$ROOT/lib/modules/$KVER"
for m in virtio_pci virtio_mmio virtio_blk virtio_net virtio_scsi virtio_console isofs vfat nls_cp437 nls_ascii \
    nls_iso8859-1 nls_utf8 sr_mod sd_mod button evdev; do
    for f in $(modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}'); do
        rel=${f#"$KROOT"}
        mkdir -p "$ROOT$(dirname "$rel")"
        cp -n "$f" "$ROOT$rel"
    done
done
cp "$KROOT/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$ROOT/lib/modules/$KVER/" 2>/dev/null || true
depmod -b "$ROOT" "$KVER"

printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\n' > "$ROOT/etc/group"
printf 'root:*:19000:0:99999:7:::\n' > "$ROOT/etc/shadow"
chmod 600 "$ROOT/etc/shadow"
printf '/bin/sh\n' > "$ROOT/etc/shells"
printf '127.0.0.1 localhost\n' > "$ROOT/etc/hosts"
printf 'export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n' > "$ROOT/etc/profile"
cat > "$ROOT/etc/inittab" <<'INITTAB'
::sysinit:/etc/rc
::respawn:-/bin/sh
::shutdown:/etc/rc.shutdown
INITTAB
cat > "$ROOT/etc/rc.shutdown" <<'SHUTDOWN'
#!/bin/sh
kill $(cat /var/run/dropbear.pid 2>/dev/null) 2>/dev/null
sync
umount -a -r 2>/dev/null
SHUTDOWN
cat > "$ROOT/etc/acpi/PWRF/00000080" <<'POWER'
#!/bin/sh
echo GUEST-POWERDOWN > /dev/console
poweroff
POWER
# Debian's busybox udhcpc runs this script with the lease.
cat > "$ROOT/etc/udhcpc/default.script" <<'DHCP'
#!/bin/sh
case "$1" in
deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
bound | renew)
    ip -4 addr flush dev "$interface"
    # QEMU's restricted user network leaves the router out of its leases:
    # the DHCP server is the router. A /0 lease (the network that takes in
    # the metadata address) is taken as the address alone, the router on
    # the link.
    router=${router:-$serverid}
    if [ "${mask:-24}" = 0 ]; then
        ip -4 addr add "$ip/32" dev "$interface"
        for r in $router; do ip route replace "$r" dev "$interface" scope link; break; done
    else
        ip -4 addr add "$ip/${mask:-24}" dev "$interface"
    fi
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
esac
DHCP
install -m 0755 "$HERE/guest/rc" "$ROOT/etc/rc"
chmod 0755 "$ROOT/etc/rc.shutdown" "$ROOT/etc/acpi/PWRF/00000080" "$ROOT/etc/udhcpc/default.script"

(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 -n \
    > "$WORK/initrd.img"
cp "$KROOT/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

# A 64 MiB disk: MBR, then one bootable FAT32 partition from 1 MiB holding
# syslinux, the kernel and the initramfs.
truncate -s 64M "$WORK/disk.raw"
printf 'label: dos\nstart=2048, type=c, bootable\n' | sfdisk -q "$WORK/disk.raw"
truncate -s $(((64 * 2048 - 2048) * 512)) "$WORK/part.img"
mkfs.vfat -F 32 -n GUESTBOOT -h 2048 "$WORK/part.img" >/dev/null
cat > "$WORK/syslinux.cfg" <<'SYSLINUX'
DEFAULT linux
TIMEOUT 0
PROMPT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND console=tty0 console=ttyS0,115200 quiet panic=-1
SYSLINUX
mcopy -i "$WORK/part.img" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/syslinux.cfg" ::/
syslinux --install "$WORK/part.img"
dd if="$WORK/part.img" of="$WORK/disk.raw" bs=1M seek=1 conv=notrunc status=none
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$WORK/disk.raw" bs=440 count=1 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 -c "$WORK/disk.raw" "$WORK/image.qcow2"
mv "$WORK/image.qcow2" "$IMAGE"
echo "$STAMP" > "$OUT/stamp"
echo "$IMAGE"
