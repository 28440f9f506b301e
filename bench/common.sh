# Sourced by bench/run.sh and bench/lake.sh: the stock DuckDB CLI, the generated
# corpus and the archive of 10 million postbacks that both measure. The caller sets
# $cache, $work, $examples (where gen_corpus is) and $bin (postback-archive).

# The environment .ci/run creates (Python duckdb 1.5.5 and the stock CLI 1.5.6), with
# lxml for the Python peer; sets $venv and $duckdb_cli.
ensure_duckdb_cli() {
    venv="$cache/venv-duckdb-1.5"
    if [ ! -x "$venv/bin/duckdb" ]; then
        echo "== installing the stock DuckDB CLI 1.5.6 (PyPI duckdb-cli)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check duckdb==1.5.5 duckdb-cli==1.5.6
    fi
    duckdb_cli="$venv/bin/duckdb"
    if ! "$venv/bin/python" -c 'import lxml' 2>/dev/null; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check lxml
    fi
}

# ensure_corpus FILES: a corpus of about FILES files (the generator writes about 0.9
# files per postback: bundles, retries); sets $corpus.
ensure_corpus() {
    corpus="$work/corpus-$1"
    if [ ! -f "$corpus.manifest.json" ]; then
        rm -rf "$corpus"
        echo "== generating a corpus of about $1 files"
        "$examples/gen_corpus" --out "$corpus" --postbacks $(( $1 * 1000 / 895 )) --seed 2026 --days 14 >/dev/null
    fi
}

# copy_forward SOURCE TARGET [ROWS]: TARGET is the archive SOURCE (an import of the
# corpus) with copies of its postbacks, each shifted by 14 days: realistic values and
# volumes per day, ROWS (10 million) in all. The fingerprint is xor'ed with the copy's
# number: `fingerprint + k` is a DOUBLE in DuckDB, which rounded the copies into 44 rows
# a fingerprint (and made the nightly lookups look cheap); archives made so are named
# without the -v2 the callers now use.
copy_forward() {
    cp "$1" "$2"
    local copies=$(( ${3:-10000000} / $("$duckdb_cli" -noheader -csv "$2" -c "SELECT count(*) FROM postbacks") ))
    "$duckdb_cli" "$2" -c "
        CREATE TEMP TABLE base AS SELECT * FROM postbacks;
        INSERT INTO postbacks SELECT * EXCLUDE (k) REPLACE (
            postback_id + k * 100000000 AS postback_id,
            xor(fingerprint, CAST(k AS UHUGEINT)) AS fingerprint,
            occurred_at + to_days(CAST(14 * k AS INTEGER)) AS occurred_at)
        FROM base, range(1, $copies) AS copies(k);
        CHECKPOINT;" >/dev/null
}

# ensure_nightly: the nightly run's 20,000 new files (another seed, one day); sets $nightly.
ensure_nightly() {
    nightly="$work/nightly-20000"
    if [ ! -f "$nightly.manifest.json" ]; then
        rm -rf "$nightly"
        "$examples/gen_corpus" --out "$nightly" --postbacks 22346 --seed 7 --days 1 >/dev/null
    fi
}
