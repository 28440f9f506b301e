#!/usr/bin/env bash
# Benchmark a nightly run against the history it runs over (issue 18): archive folders
# of one-postback files as `serve` writes them (100,000 a day), imported once; then
#   - 20,000 new files (a new day) imported with the whole tree as root, interleaved
#     with the same files into an empty archive: wall, CPU, peak RSS, medians;
#   - a no-op import of the whole tree;
#   - `serve --import-every 5s` over the folder: the CPU of idle intervals;
#   - `compact` of one day of 1,000,000 files, against reading them, and the no-op
#     import after it.
#
#   bench/history.sh            # 1M files (about 4 GB of disk, 20 minutes)
#   bench/history.sh --ten      # also 10M files, on an ext4 image of 1 KiB inodes that
#                               # holds each file in its inode (needs root; 14 GB sparse)
#
#   HISTORY_SIZES=10000000 HISTORY_COMPACT=0 bench/history.sh   # one size, no compact
#
# Results are printed and written to bench/history-results.md; BENCHMARKS.md explains them.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes="1000000"
[ "${1:-}" = "--ten" ] && sizes="1000000 10000000"
sizes="${HISTORY_SIZES:-$sizes}"

cache="$HOME/.cache/postback-archive"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
work="${BENCH_DIR:-$cache/bench-history}"
mkdir -p "$work/bin"
raw="$work/measurements.tsv"
: > "$raw"

echo "== building (release)"
cargo build --release --quiet --bin postback-archive --example gen_serve_folder --example floor
cp "$CARGO_TARGET_DIR/release/postback-archive" "$CARGO_TARGET_DIR/release/examples/gen_serve_folder" \
    "$CARGO_TARGET_DIR/release/examples/floor" "$work/bin/"
bin="$work/bin/postback-archive"
gen="$work/bin/gen_serve_folder"

# measure NAME COMMAND...: wall seconds, peak RSS (KB) and CPU seconds of one run.
measure() {
    local name="$1"; shift
    /usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || {
        cat "$work/stderr.txt" >&2; echo "$name failed" >&2; exit 1; }
    read -r seconds kb user sys < <(tail -1 "$work/time.txt")
    local cpu
    cpu=$(python3 -c "print(round($user + $sys, 3))")
    printf '%s\t%s\t%s\t%s\n' "$name" "$seconds" "$kb" "$cpu" >> "$raw"
    printf '   %-40s %8.2f s %8.0f MB %8.2f CPU-s\n' "$name" "$seconds" "$(( kb / 1024 ))" "$cpu"
}

# The folder for SIZE files: on the disk for 1M; for 10M, an ext4 image whose 1 KiB
# inodes hold each file's few hundred bytes (inline_data), so 10M files take 10 GB
# rather than 40.
folder_for() {
    local size="$1"
    if [ "$size" -lt 10000000 ]; then
        echo "$work/folder-$size"
        return
    fi
    local mount="$work/mnt-$size"
    mkdir -p "$mount"
    if ! mountpoint -q "$mount"; then
        local image="$work/folder-$size.img"
        if [ ! -f "$image" ]; then
            truncate -s 14G "$image"
            mkfs.ext4 -q -F -b 1024 -I 1024 -N 11000000 -O inline_data,^has_journal "$image"
        fi
        mount -o loop,noatime "$image" "$mount"
    fi
    echo "$mount/folder"
}

for size in $sizes; do
    days=$(( size / 100000 ))
    folder=$(folder_for "$size")
    base="$work/base-$size.duckdb"
    if [ ! -f "$folder.done" ]; then
        echo "== writing $size one-postback files over $days days into $folder"
        rm -rf "$folder"
        "$gen" --out "$folder" --files "$size" --days "$days" --start 2026-01-01
        touch "$folder.done"
    fi
    if [ ! -f "$base" ]; then
        sleep 6   # the folders' times settle, so the import keeps their stamps
        echo "== importing them once"
        measure "first import ($size)" "$bin" --quiet --db "$base" import "$folder"
        # One more file, from elsewhere: the first run with something new after a bulk
        # import builds the fingerprint filters of the whole history, once; every
        # nightly run after it only extends them. Measured so, as the nights are.
        "$gen" --out "$work/warm-$size" --files 1 --days 1 --start 2025-12-31 \
            --first-sequence $(( size + 100000 ))
        measure "first run after it ($size)" "$bin" --quiet --db "$base" import "$work/warm-$size"
    fi
    # The night: 20,000 files of the next day, kept beside the tree between runs.
    night="$work/night-$size"
    if [ ! -d "$night" ]; then
        "$gen" --out "$night" --files 20000 --days 1 \
            --start "$(date -d "2026-01-01 + $days days" +%F)" --first-sequence "$size"
    fi
    day=$(cd "$night" && find . -mindepth 3 -maxdepth 3 -type d | head -1)
    echo "== a night of 20,000 files: into the $size-file tree and into an empty archive, interleaved"
    for i in 1 2 3 4 5; do
        cp "$base" "$work/nightly.duckdb"
        mkdir -p "$(dirname "$folder/$day")"
        mv "$night/$day" "$folder/$day"
        measure "night into $size (whole tree)" "$bin" --quiet --db "$work/nightly.duckdb" import "$folder"
        mv "$folder/$day" "$night/$day"
        rm -f "$work/empty.duckdb"
        measure "night into empty ($size)" "$bin" --quiet --db "$work/empty.duckdb" import "$night"
    done
    echo "== a no-op import of the $size-file tree"
    for i in 1 2 3; do
        measure "no-op import ($size)" "$bin" --quiet --db "$base" import "$folder"
    done
    echo "== serve over the $size-file tree, 60 s of nothing new (imports every 5 s)"
    cp "$base" "$work/serve.duckdb"
    "$bin" --quiet --db "$work/serve.duckdb" serve --listen 127.0.0.1:18099 \
        --archive-dir "$folder" --import-every 5s 2>"$work/serve.log" &
    serve_pid=$!
    sleep 15   # the walk at start, then idle
    ticks() { awk '{print $14 + $15}' "/proc/$serve_pid/stat"; }
    before=$(ticks)
    sleep 60
    after=$(ticks)
    kill -TERM "$serve_pid"; wait "$serve_pid" || true
    hz=$(getconf CLK_TCK)
    cpu=$(python3 -c "print(round(($after - $before) / $hz, 3))")
    printf 'serve idle minute (%s)\t60\t0\t%s\n' "$size" "$cpu" >> "$raw"
    printf '   %-40s %8.2f CPU-s in 60 s\n' "serve idle minute ($size)" "$cpu"
done

if [ "${HISTORY_COMPACT:-1}" = 1 ]; then
echo "== compact of one day of 1,000,000 files"
day_folder="$work/one-day"
day_db="$work/one-day.duckdb"
if [ ! -f "$day_folder.done" ]; then
    rm -rf "$day_folder"
    "$gen" --out "$day_folder" --files 1000000 --days 1 --start 2026-03-01
    touch "$day_folder.done"
fi
if [ ! -f "$day_db" ]; then
    sleep 6
    "$bin" --quiet --db "$day_db" import "$day_folder"
fi
cp "$day_db" "$work/compact.duckdb"
rm -rf "$work/compact-folder"
cp -a "$day_folder" "$work/compact-folder"
# The copy made the day's folder new: import it (nothing is new but the paths), then
# age it, as a day is once it is over.
"$bin" --quiet --db "$work/compact.duckdb" import "$work/compact-folder"
find "$work/compact-folder" -mindepth 3 -type d -exec touch -d '3 days ago' {} +
measure "read the day (floor)" "$work/bin/floor" "$work/compact-folder"
measure "compact the day" "$bin" --quiet --db "$work/compact.duckdb" compact --older-than 1 "$work/compact-folder"
measure "no-op import after compact" "$bin" --quiet --db "$work/compact.duckdb" import "$work/compact-folder"
"$bin" --db "$work/compact.duckdb" query --format csv \
    "SELECT folders_listed, folders_unchanged, files_seen, files_read FROM import_runs ORDER BY run_id DESC LIMIT 1" \
    | tee "$work/after-compact.csv"
fi

python3 - "$raw" <<'EOF' | tee bench/history-results.md
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, wall, kb, cpu = line.rstrip("\n").split("\t")
    rows.setdefault(name, []).append((float(wall), int(kb) / 1024, float(cpu)))
print("| run | n | wall (median) | CPU (median) | peak RSS (median) |")
print("|---|---|---|---|---|")
for name, runs in rows.items():
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[2] for r in runs)
    rss = statistics.median(r[1] for r in runs)
    print(f"| {name} | {len(runs)} | {wall:.2f} s | {cpu:.3f} CPU-s | {rss:.0f} MB |")
EOF
echo "== written to bench/history-results.md"
