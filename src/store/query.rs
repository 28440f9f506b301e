//! Store, helper: run SQL on an archive opened read-only and stream its rows, for
//! `query` and the reports (store -> **report**).
//!
//! Values reach the receiver as [`Cell`]s (see `cells`). Rows are fetched one
//! DuckDB chunk (2,048 rows) at a time: a result of any size passes through in
//! constant memory.

use chrono::NaiveDateTime;
use duckdb::core::LogicalTypeId;
use duckdb::types::{TimeUnit, ToSql, ToSqlOutput, Value, ValueRef};
use duckdb::{Statement, params_from_iter};

use super::Archive;
use super::cells::{Shape, cell, readable, shape, type_name};
pub use crate::value::{Cell, Column, RowReceiver};

/// A value bound to a `?` (or `$1`) placeholder: reports pass their `--from`/`--to`
/// bounds and filters this way instead of splicing text into SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// A UTC instant, bound as a DuckDB `TIMESTAMP` (microsecond precision).
    Timestamp(NaiveDateTime),
}

impl ToSql for Param {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Null => ToSqlOutput::Owned(Value::Null),
            Param::Bool(value) => ToSqlOutput::Owned(Value::Boolean(*value)),
            Param::Int(value) => ToSqlOutput::Owned(Value::BigInt(*value)),
            Param::Float(value) => ToSqlOutput::Owned(Value::Double(*value)),
            Param::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Param::Timestamp(instant) => ToSqlOutput::Owned(Value::Timestamp(
                TimeUnit::Microsecond,
                instant.and_utc().timestamp_micros(),
            )),
        })
    }
}

/// What SQL given to [`run_query`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum QueryError<E> {
    /// DuckDB rejected the SQL or failed to run it: DuckDB's own message.
    #[error("{0}")]
    Sql(String),
    #[error(
        "column {column} has type {type_name}, which postback-archive cannot print; cast it to text in the SQL ({column}::VARCHAR)"
    )]
    UnsupportedType { column: String, type_name: String },
    /// SQL run with named parameters uses a `$name` it was not given, or a `?`;
    /// `name` is written as in SQL (`$foo`, `?1`).
    #[error("the SQL uses {name}, which is not one of its parameters ({known})")]
    UnknownParameter { name: String, known: String },
    /// SQL tried to read or write a file outside the folders granted with
    /// `--allow-dir`; `beside_archive` when the file is the archive, in its folder, or
    /// that folder.
    #[error("{}", file_access(path, *beside_archive))]
    FileAccess { path: String, beside_archive: bool },
    /// SQL that must be one statement (a report's) holds several.
    #[error(
        "it holds {count} SQL statements, but a report must be exactly one statement (a query); \
         keep only that one"
    )]
    NotOneStatement { count: usize },
    /// DuckDB met damage in the archive while it ran the SQL: the whole message, with
    /// what to do.
    #[error("{0}")]
    Damaged(String),
    /// The receiver failed, e.g. its output could not be written.
    #[error(transparent)]
    Receiver(E),
}

impl<E> From<duckdb::Error> for QueryError<E> {
    fn from(error: duckdb::Error) -> Self {
        QueryError::Sql(error.to_string())
    }
}

fn file_access(path: &str, beside_archive: bool) -> String {
    let path = crate::problem::printable(path);
    if beside_archive {
        format!(
            "SQL may not read or write {path}: no SQL run by postback-archive may touch the \
             archive or the folder that holds it. Write results to a folder granted with \
             --allow-dir DIR"
        )
    } else {
        format!(
            "SQL may not read or write {path}: SQL run by postback-archive reaches only files \
             inside folders granted with --allow-dir DIR (or POSTBACK_ARCHIVE_ALLOW_DIRS); \
             pass the folder you want to read or write with --allow-dir"
        )
    }
}

/// DuckDB's refusal to reach a file, which the sandbox causes, turned into a message
/// that names the way out, and damage it met into one that says what to do; every
/// other error is left as DuckDB's message, naming the archive as the user did.
fn refine<E>(archive: &Archive, error: QueryError<E>) -> QueryError<E> {
    let QueryError::Sql(message) = &error else {
        return error;
    };
    let message = archive.without_private_names(message);
    if super::is_damage(&message) {
        let what = super::find_damage(archive.files().file())
            .unwrap_or_else(|| format!("DuckDB says: {message}"));
        return QueryError::Damaged(super::damaged(archive.path(), &what));
    }
    let error = QueryError::Sql(message);
    let QueryError::Sql(message) = &error else {
        return error;
    };
    if !archive.is_sandboxed() || !message.starts_with("Permission Error:") {
        return error;
    }
    let Some(path) = message.split('"').nth(1) else {
        return error;
    };
    QueryError::FileAccess {
        path: path.to_string(),
        beside_archive: archive
            .files()
            .is_beside_archive(std::path::Path::new(path)),
    }
}

/// Run `sql` (several statements are allowed; the last one's result is streamed) with
/// `params` bound to its placeholders, handing the result to `receiver` as it arrives.
pub fn run_query<R: RowReceiver + ?Sized>(
    archive: &Archive,
    sql: &str,
    params: &[Param],
    receiver: &mut R,
) -> Result<(), QueryError<R::Error>> {
    let result = archive
        .connection()
        .prepare(sql)
        .map_err(QueryError::from)
        .and_then(|mut statement| stream(&mut statement, params, receiver));
    result.map_err(|error| refine(archive, error))
}

/// Like [`run_query`], for exactly one statement, with values bound by name
/// (`$from`): reports declare the names they use, and a name the SQL uses but was
/// not given is an error naming it.
pub fn run_query_named<R: RowReceiver + ?Sized>(
    archive: &Archive,
    sql: &str,
    params: &[(&str, Param)],
    receiver: &mut R,
) -> Result<(), QueryError<R::Error>> {
    let count = archive
        .database()
        .statement_count(sql)
        .map_err(|error| QueryError::Sql(error.to_string()))?;
    if count != 1 {
        return Err(QueryError::NotOneStatement { count });
    }
    run_one_named(archive, sql, params, receiver).map_err(|error| refine(archive, error))
}

fn run_one_named<R: RowReceiver + ?Sized>(
    archive: &Archive,
    sql: &str,
    params: &[(&str, Param)],
    receiver: &mut R,
) -> Result<(), QueryError<R::Error>> {
    let mut statement = archive.connection().prepare(sql)?;
    let mut positional = Vec::with_capacity(statement.parameter_count());
    for index in 1..=statement.parameter_count() {
        let name = statement.parameter_name(index)?;
        let Some((_, value)) = params.iter().find(|(known, _)| *known == name) else {
            let known: Vec<String> = params
                .iter()
                .map(|(known, _)| format!("${known}"))
                .collect();
            let name = if name.bytes().all(|byte| byte.is_ascii_digit()) {
                format!("?{name}")
            } else {
                format!("${name}")
            };
            return Err(QueryError::UnknownParameter {
                name,
                known: known.join(", "),
            });
        };
        positional.push(value.clone());
    }
    stream(&mut statement, &positional, receiver)
}

/// Bind `params` in order, run the prepared statement and hand its rows to `receiver`.
fn stream<R: RowReceiver + ?Sized>(
    statement: &mut Statement<'_>,
    params: &[Param],
    receiver: &mut R,
) -> Result<(), QueryError<R::Error>> {
    // Executes lazily: DuckDB produces chunks only as they are fetched below.
    drop(statement.stream_arrow(params_from_iter(params))?);
    let (columns, shapes) = describe_columns(statement)?;
    receiver.columns(&columns).map_err(QueryError::Receiver)?;
    let mut rows = statement.raw_query();
    let mut cells = Vec::with_capacity(shapes.len());
    while let Some(row) = rows.next()? {
        cells.clear();
        for (index, shape) in shapes.iter().enumerate() {
            cells.push(cell(row.get_ref(index)?, shape));
        }
        receiver.row(&cells).map_err(QueryError::Receiver)?;
    }
    Ok(())
}

type Described = (Vec<Column>, Vec<Shape>);

fn describe_columns<E>(statement: &Statement<'_>) -> Result<Described, QueryError<E>> {
    let schema = statement.schema();
    let mut columns = Vec::with_capacity(schema.fields().len());
    let mut shapes = Vec::with_capacity(schema.fields().len());
    for (index, field) in schema.fields().iter().enumerate() {
        let logical_type = statement.column_logical_type(index);
        let name = statement.column_name(index)?.clone();
        let type_name = type_name(&logical_type);
        let shape = shape(&logical_type).filter(|_| readable(field.data_type()));
        let Some(shape) = shape else {
            return Err(QueryError::UnsupportedType {
                column: name,
                type_name,
            });
        };
        let numeric = matches!(
            logical_type.id(),
            LogicalTypeId::Tinyint
                | LogicalTypeId::Smallint
                | LogicalTypeId::Integer
                | LogicalTypeId::Bigint
                | LogicalTypeId::Hugeint
                | LogicalTypeId::UTinyint
                | LogicalTypeId::USmallint
                | LogicalTypeId::UInteger
                | LogicalTypeId::UBigint
                | LogicalTypeId::UHugeint
                | LogicalTypeId::Float
                | LogicalTypeId::Double
                | LogicalTypeId::Decimal
        );
        columns.push(Column {
            name,
            type_name,
            numeric,
        });
        shapes.push(shape);
    }
    Ok((columns, shapes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_memory() -> Archive {
        Archive::in_memory()
    }

    /// Keeps everything, or stops after `limit` rows.
    #[derive(Default)]
    struct Collect {
        columns: Vec<Column>,
        rows: Vec<Vec<Cell>>,
        limit: Option<usize>,
    }

    impl RowReceiver for Collect {
        type Error = &'static str;

        fn columns(&mut self, columns: &[Column]) -> Result<(), Self::Error> {
            self.columns = columns.to_vec();
            Ok(())
        }

        fn row(&mut self, cells: &[Cell]) -> Result<(), Self::Error> {
            if self.limit == Some(self.rows.len()) {
                return Err("enough");
            }
            self.rows.push(cells.to_vec());
            Ok(())
        }
    }

    fn collect(sql: &str, params: &[Param]) -> Collect {
        let mut receiver = Collect::default();
        run_query(&in_memory(), sql, params, &mut receiver).unwrap();
        receiver
    }

    fn type_names(result: &Collect) -> Vec<&str> {
        result
            .columns
            .iter()
            .map(|c| c.type_name.as_str())
            .collect()
    }

    #[test]
    fn binds_every_kind_of_parameter() {
        let noon =
            NaiveDateTime::parse_from_str("2026-11-01 12:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let result = collect(
            "SELECT ?::VARCHAR AS origin, ? + 1 AS n, ? AS at, ? AS flag, ? AS ratio, ?::VARCHAR AS nothing",
            &[
                Param::Text("SMS_MT".into()),
                Param::Int(41),
                Param::Timestamp(noon),
                Param::Bool(true),
                Param::Float(0.5),
                Param::Null,
            ],
        );
        assert_eq!(
            result.rows,
            [[
                Cell::Text("SMS_MT".into()),
                Cell::Int(42),
                Cell::Timestamp(noon.and_utc().timestamp_micros()),
                Cell::Bool(true),
                Cell::Double(0.5),
                Cell::Null,
            ]]
        );
        assert_eq!(
            type_names(&result),
            [
                "VARCHAR",
                "BIGINT",
                "TIMESTAMP",
                "BOOLEAN",
                "DOUBLE",
                "VARCHAR"
            ]
        );
        let numeric: Vec<bool> = result.columns.iter().map(|c| c.numeric).collect();
        assert_eq!(numeric, [false, true, false, false, true, false]);
    }

    #[test]
    fn the_column_type_decides_json_utc_and_unsigned_values_inside_lists_too() {
        let result = collect(
            "SELECT '{\"a\": 1}'::JSON AS j, ['[1]'::JSON] AS js,
                    [340282366920938463463374607431768211455::UHUGEINT] AS fingerprints,
                    [TIMESTAMPTZ '1970-01-01 00:00:01'] AS tz,
                    {'ns': TIMESTAMP_NS '1970-01-01 00:00:00.000000001'} AS ns,
                    MAP {'k': 1.5::DECIMAL(3,1)} AS m",
            &[],
        );
        assert_eq!(
            result.rows,
            [[
                Cell::Json("{\"a\": 1}".into()),
                Cell::List(vec![Cell::Json("[1]".into())]),
                Cell::List(vec![Cell::UHugeInt(u128::MAX)]),
                Cell::List(vec![Cell::TimestampTz(1_000_000)]),
                Cell::Struct(vec![("ns".into(), Cell::TimestampNs(1))]),
                Cell::Map(vec![(Cell::Text("k".into()), Cell::Decimal("1.5".into()))]),
            ]]
        );
        assert_eq!(
            type_names(&result),
            [
                "JSON",
                "JSON[]",
                "UHUGEINT[]",
                "TIMESTAMP WITH TIME ZONE[]",
                "STRUCT(ns TIMESTAMP_NS)",
                "MAP(VARCHAR, DECIMAL(3,1))"
            ]
        );
    }

    #[test]
    fn runs_every_statement_and_streams_the_last() {
        let result = collect(
            "CREATE TEMP TABLE runs AS SELECT 1 AS run_id; SELECT run_id + 1 AS next FROM runs",
            &[],
        );
        assert_eq!(result.rows, [[Cell::Int(2)]]);
    }

    #[test]
    fn named_parameters_are_bound_by_name_wherever_they_appear() {
        let mut receiver = Collect::default();
        run_query_named(
            &in_memory(),
            "SELECT $to - $from AS span, $from AS again",
            &[
                ("from", Param::Int(2)),
                ("to", Param::Int(7)),
                ("unused", Param::Null),
            ],
            &mut receiver,
        )
        .unwrap();
        assert_eq!(receiver.rows, [[Cell::Int(5), Cell::Int(2)]]);
    }

    #[test]
    fn a_name_or_placeholder_not_given_is_named_in_the_error() {
        let params = [("from", Param::Int(1)), ("to", Param::Int(2))];
        let error = |sql: &str| {
            run_query_named(&in_memory(), sql, &params, &mut Collect::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("SELECT $from, $days"),
            "the SQL uses $days, which is not one of its parameters ($from, $to)"
        );
        assert_eq!(
            error("SELECT ?"),
            "the SQL uses ?1, which is not one of its parameters ($from, $to)"
        );
    }

    #[test]
    fn a_receiver_error_stops_the_query() {
        let mut receiver = Collect {
            limit: Some(3),
            ..Collect::default()
        };
        let error = run_query(
            &in_memory(),
            "SELECT * FROM range(10000000)",
            &[],
            &mut receiver,
        )
        .unwrap_err();
        assert!(matches!(error, QueryError::Receiver("enough")));
        assert_eq!(receiver.rows.len(), 3);
    }

    #[test]
    fn types_that_would_print_wrong_are_refused_with_a_way_out() {
        let mut receiver = Collect::default();
        let error = run_query(
            &in_memory(),
            "SELECT 1 AS n, '12:00:00+05:30'::TIMETZ AS local_time",
            &[],
            &mut receiver,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "column local_time has type TIME WITH TIME ZONE, which postback-archive cannot print; cast it to text in the SQL (local_time::VARCHAR)"
        );
        assert!(receiver.columns.is_empty());
    }

    #[test]
    fn sql_errors_are_duckdbs_own_message() {
        let mut receiver = Collect::default();
        let error = run_query(&in_memory(), "SELEC 1", &[], &mut receiver).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Parser Error: syntax error at or near \"SELEC\"\n\nLINE 1: SELEC 1\n        ^^^^^"
        );
    }
}
