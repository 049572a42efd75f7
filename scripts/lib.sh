# Shared helpers for the scripts that run authfn behind real servers on 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${AUTHFN_BIN:-$root/.build/debug/authfn}
[ -x "$bin" ] || { echo "no authfn binary at $bin (run swift build, or set AUTHFN_BIN)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Waits until something listens on 127.0.0.1:$1.
wait_for_port() {
  for _ in $(seq 1 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2; return 1
}

# Cheap, deterministic-enough settings for checks; a fresh data directory each run.
export AUTHFN_DATA_DIR=$work/data AUTHFN_PASSWORD_HASH=scrypt:1024:8:1 AUTHFN_LOG_LEVEL=${AUTHFN_LOG_LEVEL:-error}
export JWT_SECRET_KEY=scripts-secret-0123456789abcdef0123456789

passed=0 failed=0
expect() { # expect NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then passed=$((passed+1)); echo "ok   $1 ($3)"; else failed=$((failed+1)); echo "FAIL $1: expected $2, got $3"; fi
}
summary() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
