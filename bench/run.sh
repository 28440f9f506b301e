#!/usr/bin/env bash
# Benchmark postback-archive against the I/O floor and the DuckDB SQL peer.
#
#   bench/run.sh            # 200,000-file corpus
#   bench/run.sh --big      # 1,000,000-file corpus (adds ~10 minutes)
#   bench/run.sh --files N  # any size
#
# Everything runs on this machine, in one run, on the same corpus, with a warm page
# cache (every measurement reads the corpus after the floor has). Results are printed
# and written to bench/results.md; BENCHMARKS.md explains them.
set -euo pipefail
cd "$(dirname "$0")/.."

files=200000
while [ $# -gt 0 ]; do
    case "$1" in
        --big) files=1000000 ;;
        --files) files="$2"; shift ;;
        *) echo "usage: bench/run.sh [--big | --files N]" >&2; exit 1 ;;
    esac
    shift
done

cache="$HOME/.cache/postback-archive"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
work="${BENCH_DIR:-$cache/bench}"
mkdir -p "$work"
results="bench/results.md"
raw="$work/measurements.tsv"
: > "$raw"

echo "== building (release)"
cargo build --release --quiet --bin postback-archive --example gen_corpus --example floor --example parse_speed
# Copies, so that another build in the same target directory cannot swap them mid-run.
mkdir -p "$work/bin"
cp "$CARGO_TARGET_DIR/release/postback-archive" "$CARGO_TARGET_DIR/release/examples/gen_corpus" \
    "$CARGO_TARGET_DIR/release/examples/floor" "$CARGO_TARGET_DIR/release/examples/parse_speed" "$work/bin/"
bin="$work/bin/postback-archive"
examples="$work/bin"

source bench/common.sh
ensure_duckdb_cli
ensure_corpus "$files"
corpus_files=$(find -L "$corpus" -type f | wc -l)
echo "== corpus: $corpus ($corpus_files files)"

# measure NAME COMMAND...: elapsed seconds and peak RSS of one run, appended to $raw.
measure() {
    local name="$1"; shift
    local out="$work/time.txt"
    /usr/bin/time -f '%e %M %U %S' -o "$out" "$@" >/dev/null 2>"$work/stderr.txt" || {
        local status=$?
        # import exits 2 when input files had problems: the corpus has malformed files on purpose.
        if [ "$status" -ne 2 ]; then cat "$work/stderr.txt" >&2; echo "$name failed ($status)" >&2; exit 1; fi
    }
    read -r seconds kb user sys < <(tail -1 "$out")
    local cpu
    cpu=$(python3 -c "print(round($user + $sys, 2))")
    printf '%s\t%s\t%s\t%s\n' "$name" "$seconds" "$kb" "$cpu" >> "$raw"
    printf '   %-28s %8.2f s %8.0f MB %8.2f CPU-s\n' "$name" "$seconds" "$(( kb / 1024 ))" "$cpu"
}

fresh_import() {
    rm -f "$work/archive.duckdb" "$work/archive.duckdb.wal"
    measure "$1" "$bin" --quiet --db "$work/archive.duckdb" import "${@:2}" "$corpus"
}

echo "== measuring (medians of several runs)"
# Each import follows a floor run, and each no-op a find, so that both sides of a
# ratio read a cache in the same state (this VM's memory manager evicts idle pages).
for i in 1 2 3 4 5; do
    measure floor "$examples/floor" "$corpus"
    fresh_import import
    measure floor "$examples/floor" "$corpus"
    fresh_import "import --threads 1" --threads 1
done
for i in 1 2 3; do
    measure find bash -c "find -L '$corpus' -type f -printf '%s %T@\n' > /dev/null"
    measure "import no-op" "$bin" --quiet --db "$work/archive.duckdb" import "$corpus"
done

echo "== parsing and normalizing alone (one thread, files already in memory)"
parse_seconds=$("$examples/parse_speed" "$corpus" | sed 's/.*parse_seconds=//')
printf 'parse (one thread)\t%s\t0\n' "$parse_seconds" >> "$raw"
echo "   parse (one thread)               $parse_seconds s"

echo "== DuckDB storing the same rows, alone (one thread): the storage part of the import"
rm -f "$work/store-floor.duckdb"
measure "storage floor" "$duckdb_cli" "$work/store-floor.duckdb" -c "
    SET threads = 1;
    ATTACH '$work/archive.duckdb' AS imported (READ_ONLY);
    CREATE TABLE postbacks AS SELECT * FROM imported.postbacks;
    CREATE TABLE files AS SELECT * FROM imported.files;
    CREATE TABLE duplicates AS SELECT * FROM imported.duplicates;
    CHECKPOINT;"

echo "== the DuckDB SQL peer (once: it is slow)"
rm -f "$work/peer.duckdb"
sed "s#CORPUS#$corpus#" bench/peer.sql > "$work/peer.sql"
measure "duckdb SQL peer" "$duckdb_cli" "$work/peer.duckdb" -f "$work/peer.sql"
peer_files=$(find -L "$corpus" -type f -name '*.xml' | wc -l)

echo "== the Python peer: lxml and duckdb (once)"
rm -f "$work/peer-lxml.duckdb"
measure "python lxml peer" "$venv/bin/python" bench/peer_lxml.py "$corpus" "$work/peer-lxml.duckdb"

# (-v2: the archives before it had the fingerprints of their copies rounded; see
# copy_forward in bench/common.sh.)
big="$work/archive-10m-v2.duckdb"
mid="$work/archive-1m-v2.duckdb"
if "$bin" report daily --help >/dev/null 2>&1; then
echo "== report daily on an archive of 10 million postbacks"
if [ ! -f "$big" ] || [ ! -f "$mid" ]; then
    fresh_import "import (for the 10M archive)" >/dev/null
    copy_forward "$work/archive.duckdb" "$big" 10000000
    copy_forward "$work/archive.duckdb" "$mid" 1000000
fi
# Bring both to this build's schema and build their fingerprint filters, which the
# first import after an upgrade does once (about 10 s at 10M), so that the runs below
# measure a night, not an upgrade: an import of data/sample (new postbacks to look up).
for archive in "$big" "$mid"; do
    "$bin" --quiet --db "$archive" import data/sample || [ $? -eq 2 ]
done
big_rows=$("$duckdb_cli" -readonly -noheader -csv "$big" -c "SELECT count(*) FROM postbacks")
day=$("$duckdb_cli" -readonly -noheader -csv "$big" -c "SELECT CAST(max(occurred_at) AS DATE) - 3 FROM postbacks")
for i in 1 2 3; do
    rm -rf "$work/reports"
    measure "report daily (10M)" "$bin" --quiet --db "$big" report daily --date "$day" --out-dir "$work/reports"
done

echo "== a nightly run: 20,000 new files into the archive of 10 million postbacks"
ensure_nightly
nightly_files=$(find -L "$nightly" -type f | wc -l)
# Into an empty archive, 1M and 10M, interleaved: the lookups of earlier copies are
# the only work that grows with the archive.
for i in 1 2 3; do
    for size in empty 1M 10M; do
        rm -f "$work/nightly.duckdb" "$work/nightly.duckdb.wal"
        case "$size" in 1M) cp "$mid" "$work/nightly.duckdb" ;; 10M) cp "$big" "$work/nightly.duckdb" ;; esac
        measure "nightly import ($size)" "$bin" --quiet --db "$work/nightly.duckdb" import "$nightly"
    done
done
rm -f "$work/nightly.duckdb" "$work/nightly.duckdb.wal"
else
    echo "== (this build has no report daily; skipped)"
    big_rows=0 day=none nightly_files=0
fi

if [ "$files" -ge 1000000 ] || [ -n "${BENCH_MEMORY:-}" ]; then
    echo "== peak memory of a 1,000,000-file import is the import row above"
fi

python3 bench/table.py "$raw" "$corpus_files" "$peer_files" "$big_rows" "$day" "$nightly_files" | tee "$results"
echo "== written to $results"
