#!/usr/bin/env bash
# Benchmark `export`: the archive of 10 million postbacks (as bench/run.sh builds it)
# exported into a new lake, then a nightly import of 20,000 new files and the
# incremental export that follows it, and `report daily` on the lake against the
# archive. Prints the figures and writes them to bench/lake-results.md.
#
#   bench/lake.sh            # each timed step 3 times
#   RUNS=1 bench/lake.sh     # once
set -euo pipefail
cd "$(dirname "$0")/.."

cache="$HOME/.cache/postback-archive"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
work="${BENCH_DIR:-$cache/bench}"
mkdir -p "$work/bin"
results="bench/lake-results.md"
runs="${RUNS:-3}"

echo "== building (release)"
cargo build --release --quiet --bin postback-archive --example gen_corpus
cp "$CARGO_TARGET_DIR/release/postback-archive" "$CARGO_TARGET_DIR/release/examples/gen_corpus" "$work/bin/"
bin="$work/bin/postback-archive"
examples="$work/bin"

source bench/common.sh
ensure_duckdb_cli
big="$work/archive-10m-v2.duckdb"
if [ ! -f "$big" ]; then
    # bench/run.sh leaves the import of the 200,000-file corpus in archive.duckdb.
    if [ ! -f "$work/archive.duckdb" ] || [ -f "$work/archive.duckdb.wal" ]; then
        ensure_corpus 200000
        echo "== importing the corpus"
        rm -f "$work/archive.duckdb" "$work/archive.duckdb.wal"
        "$bin" --quiet --db "$work/archive.duckdb" import --allow-bad-input "$corpus"
    fi
    echo "== copying the import forward to 10 million postbacks"
    copy_forward "$work/archive.duckdb" "$big"
fi
ensure_nightly

# timed NAME COMMAND...: run once; print and keep elapsed and CPU seconds and peak RSS.
timed() {
    local name="$1"; shift
    /usr/bin/time -f '%e %U %S %M' -o "$work/time.txt" "$@" > "$work/stdout.txt"
    read -r seconds user system kb < <(tail -1 "$work/time.txt")
    cpu=$(python3 -c "print(round($user + $system, 2))")
    peak_mb=$(( kb / 1024 ))
    elapsed="$seconds"
    printf '   %-34s %7.2f s elapsed %7.2f s CPU %6d MB\n' "$name" "$seconds" "$cpu" "$peak_mb"
}

# A lake's files with their inode and modification time, to tell what an export touched.
snapshot() {
    (cd "$1" && find . -type f -name '*.parquet' -printf '%p %i %T@\n' | sort)
}

archive="$work/lake-archive.duckdb"
lake="$work/lake"
archive_bytes=$(stat -c %s "$big")
rows=$("$duckdb_cli" -readonly -noheader -csv "$big" -c "SELECT count(*) FROM postbacks")
echo "== export of the archive ($rows postbacks, $(( archive_bytes / 1000000 )) MB) into a new lake"
full_lines=()
for i in $(seq "$runs"); do
    rm -rf "$lake" "$archive" "$archive.wal"
    cp "$big" "$archive"
    timed "export (10M, run $i)" "$bin" --db "$archive" export --to "$lake"
    rate=$(python3 -c "print(round($rows / $elapsed))")
    full_lines+=("| export, new lake (run $i) | $elapsed | $cpu | $peak_mb | $rate |")
done
lake_bytes=$(du -sb "$lake" | cut -f1)
lake_files=$(find "$lake" -type f -name '*.parquet' | wc -l)

echo "== nightly import of $(find -L "$nightly" -type f | wc -l) files, then the incremental export"
"$bin" --quiet --db "$archive" import --allow-bad-input "$nightly"
before=$(snapshot "$lake")
timed "incremental export" "$bin" --db "$archive" export --to "$lake"
incremental_line="| export after the nightly import | $elapsed | $cpu | $peak_mb | |"
incremental_summary=$(cat "$work/stdout.txt")
after=$(snapshot "$lake")
kept=$(comm -12 <(echo "$before") <(echo "$after") | wc -l)
new_files=$(comm -13 <(echo "$before" | cut -d' ' -f1) <(echo "$after" | cut -d' ' -f1))
changed=$(comm -13 <(echo "$before") <(echo "$after") | cut -d' ' -f1 | comm -12 - <(echo "$before" | cut -d' ' -f1) | wc -l)
echo "   files kept as they were: $kept of $(echo "$before" | wc -l); changed: $changed; new:"
echo "$new_files" | sed 's/^/     /'
timed "export with nothing new" "$bin" --db "$archive" export --to "$lake"
noop_line="| export with nothing new | $elapsed | $cpu | $peak_mb | |"

day=$("$duckdb_cli" -readonly -noheader -csv "$big" -c "SELECT CAST(max(occurred_at) AS DATE) - 3 FROM postbacks")
echo "== report daily for $day: archive against lake"
report_lines=()
for i in $(seq "$runs"); do
    rm -rf "$work/lake-reports"
    timed "report daily, archive" "$bin" --quiet --db "$archive" report daily --date "$day" --out-dir "$work/lake-reports"
    report_lines+=("| report daily, archive (run $i) | $elapsed | $cpu | $peak_mb | |")
    rm -rf "$work/lake-reports"
    timed "report daily --lake" "$bin" --quiet report daily --lake "$lake" --date "$day" --out-dir "$work/lake-reports"
    report_lines+=("| report daily --lake (run $i) | $elapsed | $cpu | $peak_mb | |")
done

{
    echo "# Export benchmark ($(date -u +%Y-%m-%d), $(nproc) cores)"
    echo
    echo "Archive: $rows postbacks, $archive_bytes bytes. Lake: $lake_files Parquet files, $lake_bytes bytes ($(python3 -c "print(round(100 * $lake_bytes / $archive_bytes))")% of the archive)."
    echo
    echo "| step | elapsed s | CPU s | peak MB | postbacks/s |"
    echo "|---|---:|---:|---:|---:|"
    printf '%s\n' "${full_lines[@]}" "$incremental_line" "$noop_line" "${report_lines[@]}"
    echo
    echo "Incremental export: $incremental_summary"
    echo "Files it left as they were: $kept of $(echo "$before" | wc -l); files it changed: $changed; files it added:"
    echo
    echo "$new_files" | sed 's/^/    /'
} | tee "$results"
echo "== written to $results"
