#!/bin/sh
# mmdebstrap --customize-hook for the runtime base (variant `extract`): packages
# are unpacked, never configured, so this does what their maintainer scripts and
# a distroless base would: the python3 name, bytecode, users, a package list.
# $1: the root filesystem being built (on the host).
set -eu
root=$1
# python3-minimal (which depends on dpkg and tar) would own this link.
ln -sf python3.11 "$root/usr/bin/python3"
# The stdlib's bytecode, compiled now: nothing may write __pycache__ at run time
# (read-only root filesystem). unchecked-hash: valid whatever the files' mtimes
# become in the image's layers; the files never change.
chroot "$root" /usr/bin/python3.11 -m compileall -q -j 1 --invalidation-mode unchecked-hash \
    /usr/lib/python3.11 >/dev/null
# root and the chart's non-root user (runAsUser/runAsGroup 65532, as distroless).
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/usr/sbin/nologin\n' \
    > "$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"
# dpkg's status file from the unpacked .debs, so scanners see what the image holds.
: > "$root/var/lib/dpkg/status"
for deb in "$root"/var/cache/apt/archives/*.deb; do
  dpkg-deb -f "$deb" Package Version Architecture Source Multi-Arch Maintainer >> "$root/var/lib/dpkg/status"
  printf 'Status: install ok installed\n\n' >> "$root/var/lib/dpkg/status"
done
