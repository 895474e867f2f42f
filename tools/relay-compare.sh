#!/usr/bin/env bash
# iperf3 through `procwire relay` (each mode), `socat -b 262144`, socat's default, and
# direct (no relay), on loopback only. The configurations are interleaved (one run of each,
# in a rotated order, per repeat), and the script prints each one's median throughput, the
# forwarder's CPU seconds per GB (user+system of the forwarding process and its reaped
# children, from /proc/PID/stat), and the ratios against socat.
#
# Usage: tools/relay-compare.sh            (5 repeats of 3 s per configuration: about 2 min)
#   REPEATS=N SECONDS_PER_RUN=S PROCWIRE=path/to/procwire tools/relay-compare.sh
# Needs iperf3, socat and python3; builds nothing: give it a release build
# (`cargo build --release`; the default is target/release/procwire).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REPEATS=${REPEATS:-5}
SECS=${SECONDS_PER_RUN:-3}
PROCWIRE=${PROCWIRE:-target/release/procwire}
for cmd in iperf3 socat python3; do
  command -v "$cmd" >/dev/null || { echo "relay-compare: needs $cmd" >&2; exit 2; }
done
[ -x "$PROCWIRE" ] || { echo "relay-compare: no $PROCWIRE; cargo build --release first" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A free loopback port (the kernel picks it; a tiny race with other programs is accepted).
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "relay-compare: nothing listens on port $1" >&2
  exit 1
}

server=$(port)
iperf3 -s -p "$server" >/dev/null 2>&1 &
pids+=($!)
wait_port "$server"

declare -A portof pidof
names=(direct)
portof[direct]=$server
start() { # name, command...
  local name=$1; shift
  local p; p=$(port)
  "${@//PORT/$p}" 2>>"$work/$name.err" &
  pids+=($!)
  pidof[$name]=$!
  portof[$name]=$p
  names+=("$name")
  wait_port "$p"
}
for mode in splice copy auto; do
  start "procwire-$mode" "$PROCWIRE" relay --listen 127.0.0.1:PORT --to "127.0.0.1:$server" --mode "$mode"
done
start "socat-b262144" socat -b 262144 TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork "TCP:127.0.0.1:$server"
start "socat-default" socat TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork "TCP:127.0.0.1:$server"
grep -h "granted" "$work"/procwire-*.err | head -1 >&2 || true

# CPU ticks (utime+stime+cutime+cstime) of a forwarder.
ticks() { [ -n "${1:-}" ] && awk '{print $14+$15+$16+$17}' "/proc/$1/stat" || echo 0; }

results=$work/results.tsv
n=${#names[@]}
for ((r = 0; r < REPEATS; r++)); do
  for ((i = 0; i < n; i++)); do
    name=${names[$(((i + r) % n))]}
    before=$(ticks "${pidof[$name]:-}")
    iperf3 -c 127.0.0.1 -p "${portof[$name]}" -t "$SECS" -J >"$work/run.json" 2>&1 || {
      echo "relay-compare: iperf3 through $name failed:" >&2; cat "$work/run.json" >&2; exit 1; }
    sleep 0.3 # let socat reap its child, so its CPU is in cutime
    after=$(ticks "${pidof[$name]:-}")
    python3 - "$name" "$((after - before))" "$(getconf CLK_TCK)" "$work/run.json" >>"$results" <<'EOF'
import json, sys
name, ticks, hz, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
end = json.load(open(path))["end"]["sum_received"]
print(f"{name}\t{end['bits_per_second'] / 1e9:.3f}\t{end['bytes']}\t{ticks / hz:.3f}")
EOF
  done
done

python3 - "$results" "$REPEATS" "$SECS" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
order, runs = [], {}
for name, gbit, nbytes, cpu in rows:
    if name not in runs:
        order.append(name)
    runs.setdefault(name, []).append((float(gbit), int(nbytes), float(cpu)))
med = {n: statistics.median(g for g, _, _ in runs[n]) for n in order}
def cpu_per_gb(n):
    if n == "direct":
        return None
    return statistics.median(c / (b / 1e9) for _, b, c in runs[n] if b)
print(f"iperf3 over loopback, {sys.argv[2]} interleaved repeats of {sys.argv[3]} s each; medians")
print(f"{'configuration':<16} {'Gbit/s':>8} {'cpu s/GB':>9} {'vs socat-b':>11} {'vs socat':>9} {'vs direct':>10}")
for n in order:
    c = cpu_per_gb(n)
    print(f"{n:<16} {med[n]:>8.2f} {('-' if c is None else f'{c:.3f}'):>9} "
          f"{med[n] / med['socat-b262144']:>10.2f}x {med[n] / med['socat-default']:>8.2f}x "
          f"{med[n] / med['direct']:>9.2f}x")
EOF
