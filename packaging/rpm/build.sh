#!/usr/bin/env bash
# Builds the credentials-fetcherd RPM (x86_64, for Amazon Linux 2023 / Fedora) from the static musl binaries and
# checks it: file list, modes, no dependency on shared libraries, and that the packaged daemon runs.
#
#   packaging/rpm/build.sh install      install rpmbuild (Debian package `rpm`; root)
#   packaging/rpm/build.sh [BINDIR]     build; BINDIR defaults to <target>/x86_64-unknown-linux-musl/release
#
# Output: dist/credentials-fetcherd-<version>-1.x86_64.rpm (path printed on the last line).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

die() { printf 'rpm: ERROR: %s\n' "$*" >&2; exit 1; }

if [[ ${1:-} == install ]]; then
    command -v rpmbuild >/dev/null && command -v rpm2cpio >/dev/null && command -v cpio >/dev/null && { echo "rpm: rpmbuild, rpm2cpio, cpio already installed"; exit 0; }
    [[ $(id -u) -eq 0 ]] || die "install must run as root"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -q -y -o DPkg::Lock::Timeout=600 update >/dev/null
    apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends rpm rpm2cpio cpio >/dev/null
    command -v rpmbuild >/dev/null || die "rpmbuild missing after installing the rpm package"
    echo "rpm: installed $(rpmbuild --version)"
    exit 0
fi

command -v rpmbuild >/dev/null || die "rpmbuild not found: run '$0 install' (as root) first"
if [[ -n ${1:-} ]]; then
    BINDIR=$(cd "$1" && pwd)
else
    tdir=$(cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    BINDIR=$tdir/x86_64-unknown-linux-musl/release
fi
for b in credentials-fetcherd gmsa; do
    [[ -x $BINDIR/$b ]] || die "$BINDIR/$b missing: cargo build --release --target x86_64-unknown-linux-musl --bin $b"
done
VERSION=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "credentials-fetcherd"))')

TOP=$(mktemp -d /tmp/cf-rpm.XXXXXX)
trap 'rm -rf -- "$TOP"' EXIT
rpmbuild -bb --quiet --target x86_64-linux \
    --define "_topdir $TOP" \
    --define "_build_id_links none" \
    --define "__strip /bin/true" \
    --define "cf_version $VERSION" \
    --define "cf_bindir $BINDIR" \
    --define "cf_srcdir $ROOT" \
    "$ROOT/packaging/rpm/credentials-fetcherd.spec" >"$TOP/rpmbuild.log" 2>&1 \
    || { cat "$TOP/rpmbuild.log" >&2; die "rpmbuild failed"; }
RPM=$(find "$TOP/RPMS" -name '*.rpm' | head -n 1)
[[ -n $RPM ]] || die "rpmbuild produced no package"
mkdir -p "$ROOT/dist"
OUT=$ROOT/dist/$(basename "$RPM")
cp -f -- "$RPM" "$OUT"

# Checks: the file list, the modes, no library requirement, and the packaged binaries run.
expect=(/usr/bin/gmsa /usr/lib/systemd/system/credentials-fetcherd.service /usr/lib/systemd/system/credentials-fetcherd.socket
        /usr/sbin/credentials-fetcherd
        /usr/share/doc/credentials-fetcherd/README.md /var/credentials-fetcher /var/credentials-fetcher/krbdir
        /var/credentials-fetcher/socket)
got=$(rpm -qlp "$OUT" 2>/dev/null | sort)
want=$(printf '%s\n' "${expect[@]}" | sort)
[[ $got == "$want" ]] || die "unexpected file list in $OUT:"$'\n'"$got"
rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$OUT" 2>/dev/null \
    | grep -q '^-rwxr-xr-x root:root /usr/sbin/credentials-fetcherd$' || die "daemon mode/owner wrong in $OUT"
# The scriptlets enable the socket unit (install and upgrade) and stop it on removal.
scripts=$(rpm -qp --scripts "$OUT" 2>/dev/null)
grep -q 'systemctl enable credentials-fetcherd.socket' <<<"$scripts" || die "%post does not enable credentials-fetcherd.socket"
grep -q 'disable --now credentials-fetcherd.service credentials-fetcherd.socket' <<<"$scripts" \
    || die "%preun does not stop credentials-fetcherd.socket"
grep -q '^ListenStream=/var/credentials-fetcher/socket/credentials_fetcher.sock$' "$ROOT/packaging/credentials-fetcherd.socket" \
    || die "the socket unit does not listen on upstream's path"
if rpm -qpR "$OUT" 2>/dev/null | grep -E '\.so|libc' ; then die "$OUT requires shared libraries"; fi
EXTRACT=$TOP/root
mkdir -p "$EXTRACT"
(cd "$EXTRACT" && rpm2cpio "$OUT" | cpio -idm --quiet)
"$EXTRACT/usr/sbin/credentials-fetcherd" --version
"$EXTRACT/usr/bin/gmsa" --version
echo "rpm: $(rpm -qp --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}' "$OUT" 2>/dev/null), $(stat -c %s "$OUT") bytes"
echo "$OUT"
