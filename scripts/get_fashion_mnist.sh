#!/usr/bin/env bash
# Makes the full Fashion-MNIST (60,000 training / 10,000 test images) available and prints
# its folder, for a workload's data.dir:
#
#   dir=$(scripts/get_fashion_mnist.sh)
#   nandspin run --workload workloads/lenet5-fashion.toml --set data.dir="$dir"
#
# The data comes from Debian's package dataset-fashion-mnist, which puts the four standard
# gzipped IDX files in /usr/share/datasets/fashion-mnist. If the package is missing, this
# installs it with apt-get (running apt-get update first if the install fails), which needs
# root. It then checks that the four files are there.
#
# The folder is the only line on standard output; progress and errors go to standard error.
# Exit code 0 when the folder is ready, 1 otherwise.
#
# usage: scripts/get_fashion_mnist.sh
set -euo pipefail

pkg=dataset-fashion-mnist
dir=/usr/share/datasets/fashion-mnist
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
  t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

say() { echo "get_fashion_mnist: $*" >&2; }
fail() {
  say "error: $*"
  exit 1
}

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" = "install ok installed" ]
}

if installed; then
  say "package $pkg is installed"
else
  command -v apt-get >/dev/null || fail "package $pkg is missing and there is no apt-get to install it"
  if [ "$(id -u)" != 0 ]; then
    fail "package $pkg is missing; installing it needs root: run this script as root, or 'sudo apt-get install $pkg'"
  fi
  say "installing package $pkg"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >&2; then
    say "install failed; running apt-get update and trying again"
    apt-get update >&2 || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >&2 || fail "apt-get install -y $pkg failed"
  fi
  installed || fail "apt-get did not install $pkg"
fi

for f in "${files[@]}"; do
  [ -s "$dir/$f" ] || fail "$dir/$f is missing or empty (package $pkg looks damaged: try 'apt-get install --reinstall $pkg')"
done
say "the four files are in $dir"
echo "$dir"
