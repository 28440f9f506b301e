#!/usr/bin/env bash
# Load on `postback-archive serve`: postbacks per second, latency percentiles and the
# server's CPU per request at 1, 16 and 64 clients, fsync on, on loopback.
#
#   bench/serve.sh                 # 10 s per step
#   bench/serve.sh --seconds 30
#
# The archive folder is on the disk of $BENCH_DIR (default ~/.cache/postback-archive/
# bench-serve; not a tmpfs, or fsync costs nothing). Each run writes a new folder and
# removes it at the end: a mass delete right before a run slows ext4's inode
# allocation for minutes. The load generator is examples/load.rs; it shares the two
# cores with the server, as the platform would not; its CPU, and that of any other
# process on the machine during each step, are measured too. Results are printed and
# written to bench/serve-results.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift ;;
        *) echo "usage: bench/serve.sh [--seconds N]" >&2; exit 1 ;;
    esac
    shift
done

cache="$HOME/.cache/postback-archive"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
work="${BENCH_DIR:-$cache/bench-serve}"
mkdir -p "$work/bin"
results="bench/serve-results.md"

echo "== building (release)"
cargo build --release --quiet --bin postback-archive --example load
cp "$CARGO_TARGET_DIR/release/postback-archive" "$CARGO_TARGET_DIR/release/examples/load" "$work/bin/"

run="$work/run-$(date +%s)"
mkdir -p "$run"
port=$((20000 + RANDOM % 20000))
"$work/bin/postback-archive" --quiet --db "$run/archive.duckdb" serve \
    --listen "127.0.0.1:$port" --archive-dir "$run/received" 2> "$run/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$run"' EXIT
sleep 1

{
    echo "| clients | postbacks/s | p50 ms | p90 ms | p99 ms | max ms | server CPU µs/request | load generator CPU µs/request | other processes' busy cores |"
    echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
} > "$results"
for clients in 1 16 64; do
    line=$("$work/bin/load" --addr "127.0.0.1:$port" --clients "$clients" --seconds "$seconds" --server-pid "$server")
    echo "$line"
    value() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    echo "| $clients | $(value rate) | $(value p50_ms) | $(value p90_ms) | $(value p99_ms) | $(value max_ms) | $(value server_cpu_us_per_request) | $(value load_cpu_us_per_request) | $(value other_cores_busy) |" >> "$results"
done
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' >&3
metrics=$(cat <&3)
exec 3<&-
metric() { echo "$metrics" | sed -n "s/^postback_archive_$1 //p" | tr -d '\r'; }
kill -TERM "$server"
wait "$server" || true
awk -v files="$(metric archived_files_total)" -v batches="$(metric commit_batches_total)" \
    -v barriers="$(metric fsync_seconds_count)" -v seconds="$(metric fsync_seconds_sum)" \
    'BEGIN { printf "\n%d files in %d group commits (%.1f a batch); fsync barriers: mean %.1f ms\n",
             files, batches, files / batches, 1000 * seconds / barriers }' >> "$results"
cat "$results"
