#!/usr/bin/env bash
# Cross-checks the raw-loop figures of `procwire bench` against tools/rawloop.c, an independent
# C read/write loop, on the same kinds, chunk sizes and placements. Runs of the two alternate,
# cell by cell, so the machine's drift weighs on both.
#   bash tools/crosscheck.sh [REPEATS] [CHUNKS]      (defaults: 5, 64K,1M)
# Prints, per cell, the median raw-loop figure of each and their ratio.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repeats=${1:-5}
chunks=${2:-64K,1M}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -Wall -o "$out/rawloop" tools/rawloop.c
cargo build --release --quiet
python3 - "$out" "$repeats" "$chunks" <<'PY'
import json, statistics, subprocess, sys
out, repeats, chunks = sys.argv[1], int(sys.argv[2]), sys.argv[3]
secs = 0.3
bench_runs, c_runs, cells = {}, {}, {}
for rep in range(repeats):
    for kind in ["pipes", "socketpair", "loopback"]:
        for chunk in chunks.split(","):
            for placement in ["same", "cross"]:
                subprocess.run(["./target/release/procwire", "bench", "--kinds", kind, "--chunks", chunk,
                                "--placement", placement, "--repeats", "1", "--duration", str(secs),
                                "--json", f"{out}/b.json"], check=True, stdout=subprocess.DEVNULL)
                for c in json.load(open(f"{out}/b.json"))["throughput"]:
                    key = (c["row"], c["chunk"], c["placement"])
                    cells[key] = c
                    bench_runs.setdefault(key, []).append(c["raw_gb_s"]["median"])
                    w, r = c["cpus"]
                    cmd = [f"{out}/rawloop", c["kind"], str(c["chunk"]), str(secs), str(w), str(r),
                           str(c["capacity_asked"] or 0)]
                    c_runs.setdefault(key, []).append(float(subprocess.check_output(cmd)))
print(f"{'row':<20} {'chunk':>7} {'placement':<10} {'bench raw':>9} {'C loop':>7} {'C/bench':>8}")
for key in cells:
    b, c = statistics.median(bench_runs[key]), statistics.median(c_runs[key])
    print(f"{key[0]:<20} {key[1]>>10:>6}K {key[2]:<10} {b:>9.2f} {c:>7.2f} {c/b:>8.2f}")
PY
