//! Store, helper: which tables of the archive a lake holds, and how each column is
//! written to Parquet and read back (store -> **lake**).
//!
//! The rules, lake version 1, chosen so that Spark 4, Trino and the stock DuckDB read
//! every value exactly:
//!
//! - `UHUGEINT` (the fingerprint) becomes 32 lowercase hex characters: DuckDB writes a
//!   128-bit integer to Parquet as a `DOUBLE`, which loses its low bits, and no other
//!   engine has the type.
//! - `TIMESTAMP` (every time in the archive is a UTC instant) becomes `TIMESTAMPTZ`:
//!   Parquet `TIMESTAMP(MICROS, isAdjustedToUTC = true)`, an instant, which Spark reads
//!   as `timestamp` and Trino as `timestamp with time zone`. A plain `TIMESTAMP` would
//!   read as Spark's `timestamp_ntz`, a wall-clock time of no zone.
//! - `JSON` becomes a string (`VARCHAR`).
//! - Booleans, integers, `DOUBLE`, `VARCHAR`, `DATE` and lists of them stay as they are.
//!
//! Every other type is refused, so that a schema change that would need a new rule
//! (a `UUID`, `TIME`, `INTERVAL` or nanosecond timestamp, which Spark 4.3 rejects)
//! fails loudly instead of writing what some engine cannot read.

use duckdb::Connection;

use super::LakeError;

/// Tables never exported: the archive's settings, the ledger of input files and
/// folders and the journal of `compact` (paths, hashes and stamps that mean nothing
/// away from the machine that read them), the export state itself, and the import's
/// fingerprint filters (derived from `postbacks`).
const NOT_EXPORTED: [&str; 7] = [
    "archive_meta",
    "compactions",
    "files",
    "fingerprint_filters",
    "folders",
    "lake_exports",
    "lake_files",
];

/// The table a lake partitions by the UTC day of `occurred_at`.
pub const POSTBACKS: &str = "postbacks";

/// How a table's rows are split into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `postbacks`: one file per import run and UTC day of `occurred_at`.
    ByRunAndDay,
    /// A table with a `run_id` (`duplicates`, `import_errors`, `import_runs`): one file
    /// per import run.
    ByRun,
    /// A reference table (`status_codes`, `carriers`, ...): one file per archive.
    Reference,
}

/// A column of an archive table, as DuckDB's catalog names and types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    /// DuckDB's type name: `UHUGEINT`, `TIMESTAMP`, `VARCHAR[]`, ...
    pub type_name: String,
}

/// A table of the archive that a lake holds, with its columns in order.
#[derive(Debug, Clone)]
pub struct LakeTable {
    pub name: String,
    pub kind: TableKind,
    pub columns: Vec<CatalogColumn>,
}

/// How one column's values change on their way into the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    Same,
    /// `UHUGEINT` <-> 32 lowercase hex characters.
    Hex128,
    /// `TIMESTAMP` (UTC) <-> `TIMESTAMPTZ`.
    Instant,
    /// `JSON` <-> `VARCHAR`.
    JsonText,
}

/// The exported tables of the database `conn` holds (an archive, or the empty schema
/// a lake's views are built on), in name order, each checked against the rules.
pub fn lake_tables(conn: &Connection) -> Result<Vec<LakeTable>, LakeError> {
    let mut statement = conn.prepare(
        "SELECT c.table_name, c.column_name, c.data_type
         FROM duckdb_columns() c
         JOIN duckdb_tables() t
           ON t.database_name = c.database_name AND t.schema_name = c.schema_name
          AND t.table_name = c.table_name
         WHERE c.database_name = current_database() AND c.schema_name = 'main'
         ORDER BY c.table_name, c.column_index",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            CatalogColumn {
                name: row.get(1)?,
                type_name: row.get(2)?,
            },
        ))
    })?;
    let mut tables: Vec<LakeTable> = Vec::new();
    for row in rows {
        let (table, column) = row?;
        if NOT_EXPORTED.contains(&table.as_str()) {
            continue;
        }
        conversion(&table, &column)?;
        match tables.last_mut() {
            Some(last) if last.name == table => last.columns.push(column),
            _ => tables.push(LakeTable {
                name: table,
                kind: TableKind::Reference,
                columns: vec![column],
            }),
        }
    }
    for table in &mut tables {
        table.kind = kind_of(table);
    }
    Ok(tables)
}

fn kind_of(table: &LakeTable) -> TableKind {
    let has = |name: &str| table.columns.iter().any(|column| column.name == name);
    if table.name == POSTBACKS && has("occurred_at") && has("run_id") {
        TableKind::ByRunAndDay
    } else if has("run_id") {
        TableKind::ByRun
    } else {
        TableKind::Reference
    }
}

/// The rule for `column` of `table`, or the refusal of a type no rule covers.
fn conversion(table: &str, column: &CatalogColumn) -> Result<Conversion, LakeError> {
    let base = column.type_name.trim_end_matches("[]");
    let listed = base.len() != column.type_name.len();
    let conversion = match base {
        "UHUGEINT" if !listed => Conversion::Hex128,
        "TIMESTAMP" if !listed => Conversion::Instant,
        "JSON" if !listed => Conversion::JsonText,
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "INTEGER" | "BIGINT" | "FLOAT" | "DOUBLE"
        | "VARCHAR" | "DATE" => Conversion::Same,
        _ => {
            return Err(LakeError::UnsupportedColumn {
                table: table.to_string(),
                column: column.name.clone(),
                type_name: column.type_name.clone(),
            });
        }
    };
    Ok(conversion)
}

/// `name` as a SQL identifier.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SQL expression that writes `column` of `table` to the lake, named as the column.
pub fn to_lake(table: &str, column: &CatalogColumn) -> Result<String, LakeError> {
    let name = quoted(&column.name);
    Ok(match conversion(table, column)? {
        Conversion::Same => name,
        Conversion::Hex128 => format!(
            "lpad(lower(to_hex(({name} >> 64)::UBIGINT)), 16, '0') \
             || lpad(lower(to_hex(({name} & 18446744073709551615::UHUGEINT)::UBIGINT)), 16, '0') AS {name}"
        ),
        Conversion::Instant => format!("{name}::TIMESTAMPTZ AS {name}"),
        Conversion::JsonText => format!("{name}::VARCHAR AS {name}"),
    })
}

/// The SQL expression that reads `column` of `table` back from the lake with the
/// archive's type; `NULL` of that type when no file of the lake has the column (files
/// an earlier schema wrote).
pub fn from_lake(table: &str, column: &CatalogColumn, in_files: bool) -> Result<String, LakeError> {
    let name = quoted(&column.name);
    let type_name = &column.type_name;
    if !in_files {
        return Ok(format!("NULL::{type_name}"));
    }
    Ok(match conversion(table, column)? {
        Conversion::Same => format!("{name}::{type_name}"),
        Conversion::Hex128 => format!("('0x' || {name})::UHUGEINT"),
        // Not a cast, which would take the session's time zone where ICU is loaded.
        Conversion::Instant => format!("make_timestamp(epoch_us({name}))"),
        Conversion::JsonText => format!("{name}::JSON"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_name: &str) -> CatalogColumn {
        CatalogColumn {
            name: name.to_string(),
            type_name: type_name.to_string(),
        }
    }

    #[test]
    fn fingerprints_go_to_32_hex_characters_and_back_at_every_edge() {
        let conn = Connection::open_in_memory().unwrap();
        let fingerprint = column("fingerprint", "UHUGEINT");
        let out = to_lake("postbacks", &fingerprint).unwrap();
        let back = from_lake("postbacks", &fingerprint, true).unwrap();
        let edges: [u128; 7] = [
            0,
            1,
            u64::MAX as u128,
            1 << 64,
            1 << 127,
            u128::MAX - 1,
            u128::MAX,
        ];
        for value in edges {
            let hex: String = conn
                .query_row(
                    &format!("SELECT {out} FROM (SELECT {value}::UHUGEINT AS fingerprint)"),
                    [],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(hex, format!("{value:032x}"));
            let again: u128 = conn
                .query_row(
                    &format!("SELECT {back} FROM (SELECT '{hex}' AS fingerprint)"),
                    [],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(again, value);
        }
    }

    #[test]
    fn instants_and_json_go_to_the_lake_and_come_back_unchanged() {
        let conn = Connection::open_in_memory().unwrap();
        let at = column("occurred_at", "TIMESTAMP");
        let extra = column("extra", "JSON");
        let sql = format!(
            "SELECT {} AS occurred_at, {} AS extra FROM (SELECT {}, {} FROM (SELECT TIMESTAMP '2026-03-08 01:59:59.123456' AS occurred_at, '{{\"A\": [1]}}'::JSON AS extra))",
            from_lake("postbacks", &at, true).unwrap(),
            from_lake("postbacks", &extra, true).unwrap(),
            to_lake("postbacks", &at).unwrap(),
            to_lake("postbacks", &extra).unwrap(),
        );
        let (at_text, json): (String, String) = conn
            .query_row(
                &format!("SELECT occurred_at::VARCHAR, extra::VARCHAR FROM ({sql})"),
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(at_text, "2026-03-08 01:59:59.123456");
        assert_eq!(json, "{\"A\": [1]}");
    }

    #[test]
    fn every_table_of_this_schema_is_exported_with_a_rule_for_each_column() {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::schema::prepare(&conn, std::path::Path::new(":memory:")).unwrap();
        let tables = lake_tables(&conn).unwrap();
        let kinds: Vec<(&str, TableKind)> =
            tables.iter().map(|t| (t.name.as_str(), t.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("carriers", TableKind::Reference),
                ("code_statuses", TableKind::Reference),
                ("duplicates", TableKind::ByRun),
                ("import_errors", TableKind::ByRun),
                ("import_runs", TableKind::ByRun),
                ("postbacks", TableKind::ByRunAndDay),
                ("status_codes", TableKind::Reference),
            ]
        );
    }

    #[test]
    fn types_some_engine_cannot_read_are_refused_by_name() {
        let refused = [
            "UUID",
            "TIME",
            "INTERVAL",
            "TIMESTAMP_NS",
            "HUGEINT",
            "UHUGEINT[]",
        ];
        for type_name in refused {
            let error = to_lake("t", &column("c", type_name)).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "column t.c has type {type_name}, which the lake has no rule for; \
                     postback-archive cannot export this archive (a newer version may)"
                )
            );
        }
        assert!(to_lake("t", &column("roots", "VARCHAR[]")).is_ok());
    }
}
