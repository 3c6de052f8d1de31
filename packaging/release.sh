#!/bin/sh
# Builds a posagent release: the binary, its manual page and shell completions (generated
# by the binary itself), the profiles, the udev rule and the handbooks, as
#   OUT/posagent-VERSION-ARCH-linux.tar.gz  and  OUT/posagent-VERSION-ARCH-linux.tar.gz.sha256
# and, when cargo-deb is installed (cargo install cargo-deb --locked), OUT/posagent_*.deb
# with the same contents (metadata in agent/Cargo.toml).
#
# With --windows, also OUT/posagent-VERSION-x86_64-windows.zip and its .sha256: posagent.exe
# (cross-built for x86_64-pc-windows-gnu: rustup target add x86_64-pc-windows-gnu and the
# Debian package gcc-mingw-w64-x86-64), the profiles, the handbooks, PowerShell completions
# and README-windows.txt.
#
# The product holds no simulator: it is built without the `sim` feature, so it has no
# `posagent sim` or `posagent demo`, no simulated provider and no certificate generator.
# With --training the simulators stay in (for training laptops, and for CI's Windows lane,
# whose tests drive the simulated terminal on a Windows COM port); those packages are named
# posagent-training-… and no .deb is made of them.
#
# Usage: packaging/release.sh [--profile release|dev] [--out DIR] [--no-build] [--windows] [--training]
#                             [--host-bin BIN]
#   --no-build packages the binaries already built for the profile (the packaging test uses it).
#   --host-bin BIN (with --windows) makes the Windows package alone, generating what it holds
#     (the PowerShell completions) with BIN, a posagent already built for this machine, instead
#     of building and packaging the Linux release (CI's Windows lane uses its test build).
# Everything is written under $CARGO_TARGET_DIR when set (else target/): the product is built
# in its product/ subdirectory (a training build where cargo puts it), the packages go to
# dist/ unless --out says otherwise. The binary is shipped stripped of symbols and debug
# information (`strip`, from binutils).
set -eu

profile=release
out=
build=yes
windows=no
features=--no-default-features
product=posagent
host_bin=
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-build) build=no; shift ;;
        --windows) windows=yes; shift ;;
        --training) features=--features=sim; product=posagent-training; shift ;;
        --host-bin) host_bin=$2; shift 2 ;;
        *) echo "usage: $0 [--profile release|dev] [--out DIR] [--no-build] [--windows] [--training] [--host-bin BIN]" >&2; exit 2 ;;
    esac
done
if [ -n "$host_bin" ] && [ "$windows" = no ]; then
    echo "--host-bin makes the Windows package alone: add --windows" >&2
    exit 2
fi
case "$profile" in
    release) bindir=release ;;
    dev) bindir=debug ;;
    *) echo "--profile must be release or dev" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Everything this writes goes under the target directory cargo uses: $CARGO_TARGET_DIR when
# set (relative to the repository, as cargo takes it), else target/.
targetdir=${CARGO_TARGET_DIR:-target}
[ -n "$out" ] || out="$targetdir/dist"
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
arch=$(uname -m)

# The product (no simulators) is built in a target directory of its own, so that it never
# replaces the everyday build (target/release/posagent, which has `demo`).
builddir="$targetdir"
[ "$product" = posagent ] && builddir="$targetdir/product"
stage="$builddir/$bindir/packaging"
rm -rf "$stage"
mkdir -p "$stage"

# The Linux package: the binary built for this machine, its manual page and completions.
linux_package() {
    if [ "$build" = yes ]; then
        cargo build --locked --profile "$profile" -p posagent "$features" --target-dir "$builddir"
    fi
    bin="$builddir/$bindir/posagent"
    [ -x "$bin" ] || { echo "$bin is missing; build it first or drop --no-build" >&2; exit 1; }
    command -v strip > /dev/null 2>&1 || { echo "strip (binutils) is needed to ship a stripped binary" >&2; exit 1; }

    # Generated assets, where agent/Cargo.toml's [package.metadata.deb] expects them.
    mkdir -p "$stage/completions" "$stage/man"
    "$bin" manpage --dir "$stage/man"
    gzip -9n "$stage"/man/*.1
    "$bin" completions bash > "$stage/completions/posagent"
    "$bin" completions zsh > "$stage/completions/_posagent"
    "$bin" completions fish > "$stage/completions/posagent.fish"

    name="$product-$version-$arch-linux"
    tree="$stage/$name"
    mkdir -p "$tree/bin" "$tree/share/man/man1" "$tree/share/bash-completion/completions" \
        "$tree/share/zsh/vendor-completions" "$tree/share/fish/vendor_completions.d" \
        "$tree/share/posagent/profiles" "$tree/lib/udev/rules.d" "$tree/share/doc/posagent"
    cp "$bin" "$tree/bin/posagent"
    strip "$tree/bin/posagent"
    cp "$stage"/man/*.1.gz "$tree/share/man/man1/"
    cp "$stage/completions/posagent" "$tree/share/bash-completion/completions/posagent"
    cp "$stage/completions/_posagent" "$tree/share/zsh/vendor-completions/_posagent"
    cp "$stage/completions/posagent.fish" "$tree/share/fish/vendor_completions.d/posagent.fish"
    cp profiles/*.toml "$tree/share/posagent/profiles/"
    cp packaging/70-posagent.rules "$tree/lib/udev/rules.d/"
    cp README.md CHANGELOG.md docs/handbook.md docs/handbook.zh-CN.md "$tree/share/doc/posagent/"

    mkdir -p "$out"
    tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
    (cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
    echo "$out/$name.tar.gz"
}

if [ -n "$host_bin" ]; then
    bin=$host_bin
    [ -x "$bin" ] || { echo "$bin (--host-bin) is not an executable" >&2; exit 1; }
else
    linux_package
fi

if [ "$windows" = yes ]; then
    wtarget=x86_64-pc-windows-gnu
    if [ "$build" = yes ]; then
        cargo build --locked --profile "$profile" -p posagent "$features" --target "$wtarget" --target-dir "$builddir"
    fi
    exe="$builddir/$wtarget/$bindir/posagent.exe"
    [ -f "$exe" ] || { echo "$exe is missing; build it first or drop --no-build" >&2; exit 1; }
    wname="$product-$version-x86_64-windows"
    wtree="$stage/$wname"
    mkdir -p "$wtree/profiles" "$wtree/docs" "$wtree/completions"
    cp "$exe" "$wtree/posagent.exe"
    x86_64-w64-mingw32-strip "$wtree/posagent.exe"
    cp profiles/*.toml "$wtree/profiles/"
    cp docs/handbook.md docs/handbook.zh-CN.md "$wtree/docs/"
    cp CHANGELOG.md "$wtree/docs/"
    "$bin" completions powershell > "$wtree/completions/_posagent.ps1"
    cp packaging/README-windows.txt "$wtree/README-windows.txt"
    rm -f "$out/$wname.zip"
    (cd "$stage" && python3 -m zipfile -c "$out/$wname.zip" "$wname")
    (cd "$out" && sha256sum "$wname.zip" > "$wname.zip.sha256")
    echo "$out/$wname.zip"
fi

if [ "$product" != posagent ]; then
    echo "no .deb for a training build" >&2
elif [ -n "$host_bin" ]; then
    echo "no .deb without the Linux package (--host-bin)" >&2
elif command -v cargo-deb > /dev/null 2>&1; then
    fast=""
    [ "$profile" = dev ] && fast="--fast"
    CARGO_TARGET_DIR="$builddir" cargo deb -p posagent --no-build --profile "$profile" --output "$out" --strip $fast
else
    echo "cargo-deb is not installed; skipped the .deb (cargo install cargo-deb --locked)" >&2
fi
