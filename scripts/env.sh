# Sourced by scripts/{demo,test,soak}.sh: the repository as the working directory (ROOT), cargo
# and sbin on PATH, the peers' directory TESTENV_DIR (default /tmp/gmsa-testenv).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
[[ -d $HOME/.cargo/bin ]] && PATH=$HOME/.cargo/bin:$PATH
PATH=$PATH:/usr/sbin:/sbin
export PATH
export TESTENV_DIR=${TESTENV_DIR:-/tmp/gmsa-testenv}
