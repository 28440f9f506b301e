//! Store, helper: run SQL on an archive opened read-only and stream its rows, for
//! `query` and the reports (store -> **report**).
//!
//! DuckDB's values are turned here into [`Cell`]s, so the output module that prints
//! them never sees a DuckDB type. Rows are fetched one DuckDB chunk (2,048 rows) at a
//! time: a result of any size passes through in constant memory.

use chrono::NaiveDateTime;
use duckdb::arrow::datatypes::{DataType, IntervalUnit, TimeUnit as ArrowTimeUnit};
use duckdb::core::{LogicalTypeHandle, LogicalTypeId};
use duckdb::types::{TimeUnit, ToSql, ToSqlOutput, Value, ValueRef};
use duckdb::{Statement, params_from_iter};

use super::Archive;

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

/// One column of a result: what the output prints in its header and how it aligns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// DuckDB's name for the column's type, e.g. `BIGINT`, `VARCHAR[]`, `JSON`.
    pub type_name: String,
    /// The values are numbers, which tables align to the right.
    pub numeric: bool,
}

impl Column {
    /// A BIGINT (numeric) or VARCHAR column, for tests of the outputs.
    #[cfg(test)]
    pub fn for_test(name: &str, numeric: bool) -> Self {
        let type_name = if numeric { "BIGINT" } else { "VARCHAR" }.to_string();
        Column {
            name: name.to_string(),
            type_name,
            numeric,
        }
    }
}

/// One value of a result row, independent of DuckDB. Times are kept as numbers since
/// the Unix epoch (UTC), as DuckDB stores them, so that nothing is lost or rounded.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    /// TINYINT, SMALLINT, INTEGER, BIGINT.
    Int(i64),
    /// UTINYINT, USMALLINT, UINTEGER, UBIGINT.
    UInt(u64),
    HugeInt(i128),
    /// UHUGEINT, such as the `fingerprint` columns.
    UHugeInt(u128),
    Float(f32),
    Double(f64),
    /// A DECIMAL, as its exact text (`12.50`).
    Decimal(String),
    /// VARCHAR, and the types DuckDB hands over as text: UUID, ENUM.
    Text(String),
    /// A value of a `JSON` column, as the JSON text DuckDB stores.
    Json(String),
    Blob(Vec<u8>),
    /// DATE: days since 1970-01-01; `i32::MAX` and `-i32::MAX` are DuckDB's infinities.
    Date(i32),
    /// TIME: microseconds since midnight.
    Time(i64),
    /// TIMESTAMP (and `_S`, `_MS`): microseconds; `i64::MAX` and `-i64::MAX` are infinities.
    Timestamp(i64),
    /// TIMESTAMP_NS: nanoseconds.
    TimestampNs(i64),
    /// TIMESTAMP WITH TIME ZONE: microseconds. This build of DuckDB has no time zones
    /// but UTC, so these print as UTC (`+00`).
    TimestampTz(i64),
    Interval {
        months: i32,
        days: i32,
        micros: i64,
    },
    /// LIST and ARRAY.
    List(Vec<Cell>),
    Struct(Vec<(String, Cell)>),
    Map(Vec<(Cell, Cell)>),
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
    /// The receiver failed, e.g. its output could not be written.
    #[error(transparent)]
    Receiver(E),
}

impl<E> From<duckdb::Error> for QueryError<E> {
    fn from(error: duckdb::Error) -> Self {
        QueryError::Sql(error.to_string())
    }
}

/// Where [`run_query`] sends a result: first its columns, then each row in order.
/// Returning an error stops the query.
pub trait RowReceiver {
    type Error;
    fn columns(&mut self, columns: &[Column]) -> Result<(), Self::Error>;
    fn row(&mut self, cells: &[Cell]) -> Result<(), Self::Error>;
}

/// What a column's logical type adds to the values DuckDB hands over: some types
/// arrive as plain text, plain instants or signed integers, and only the type tells
/// them apart, also inside lists, structs and maps.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Plain,
    Json,
    TimestampTz,
    TimestampNs,
    UHugeInt,
    List(Box<Shape>),
    Struct(Vec<Shape>),
    Map(Box<Shape>, Box<Shape>),
}

/// Run `sql` (several statements are allowed; the last one's result is streamed) with
/// `params` bound to its placeholders, handing the result to `receiver` as it arrives.
pub fn run_query<R: RowReceiver + ?Sized>(
    archive: &Archive,
    sql: &str,
    params: &[Param],
    receiver: &mut R,
) -> Result<(), QueryError<R::Error>> {
    let mut statement = archive.connection().prepare(sql)?;
    stream(&mut statement, params, receiver)
}

/// Like [`run_query`], with values bound by name (`$from`): reports declare the names
/// they use, and a name the SQL uses but was not given is an error naming it.
pub fn run_query_named<R: RowReceiver + ?Sized>(
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

/// The shape of a logical type, or `None` for the types whose values would come out
/// wrong: DuckDB hands BIT and BIGNUM over as raw bytes, and TIME WITH TIME ZONE
/// without its offset.
fn shape(logical_type: &LogicalTypeHandle) -> Option<Shape> {
    if logical_type.get_alias().as_deref() == Some("JSON") {
        return Some(Shape::Json);
    }
    Some(match logical_type.id() {
        LogicalTypeId::TimestampTZ => Shape::TimestampTz,
        LogicalTypeId::TimestampNs => Shape::TimestampNs,
        LogicalTypeId::UHugeint => Shape::UHugeInt,
        LogicalTypeId::List | LogicalTypeId::Array => {
            Shape::List(Box::new(shape(&logical_type.child(0))?))
        }
        LogicalTypeId::Struct => Shape::Struct(
            (0..logical_type.num_children())
                .map(|index| shape(&logical_type.child(index)))
                .collect::<Option<_>>()?,
        ),
        LogicalTypeId::Map => Shape::Map(
            Box::new(shape(&logical_type.child(0))?),
            Box::new(shape(&logical_type.child(1))?),
        ),
        LogicalTypeId::Union => {
            for index in 0..logical_type.num_children() {
                shape(&logical_type.child(index))?;
            }
            Shape::Plain
        }
        LogicalTypeId::TimeTZ
        | LogicalTypeId::TimeNs
        | LogicalTypeId::Bit
        | LogicalTypeId::Bignum
        | LogicalTypeId::Geometry
        | LogicalTypeId::Variant
        | LogicalTypeId::Unsupported => return None,
        _ => Shape::Plain,
    })
}

/// Whether the DuckDB crate can decode values of this Arrow type (it panics on the
/// others), so that an unusual type is an error message rather than a crash.
fn readable(data_type: &DataType) -> bool {
    match data_type {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::FixedSizeBinary(_)
        | DataType::Timestamp(..)
        | DataType::Date32
        | DataType::Time64(ArrowTimeUnit::Microsecond)
        | DataType::Interval(IntervalUnit::MonthDayNano) => true,
        DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _) => {
            readable(field.data_type())
        }
        DataType::Struct(fields) => fields.iter().all(|field| readable(field.data_type())),
        DataType::Map(entries, _) => readable(entries.data_type()),
        DataType::Union(fields, _) => fields.iter().all(|(_, field)| readable(field.data_type())),
        DataType::Dictionary(key, value) => {
            matches!(
                key.as_ref(),
                DataType::UInt8 | DataType::UInt16 | DataType::UInt32
            ) && matches!(value.as_ref(), DataType::Utf8)
        }
        _ => false,
    }
}

/// DuckDB's name for a type, as `DESCRIBE` prints it.
fn type_name(logical_type: &LogicalTypeHandle) -> String {
    if let Some(alias) = logical_type.get_alias() {
        return alias;
    }
    let id = logical_type.id();
    let simple = match id {
        LogicalTypeId::Boolean => "BOOLEAN",
        LogicalTypeId::Tinyint => "TINYINT",
        LogicalTypeId::Smallint => "SMALLINT",
        LogicalTypeId::Integer => "INTEGER",
        LogicalTypeId::Bigint => "BIGINT",
        LogicalTypeId::Hugeint => "HUGEINT",
        LogicalTypeId::UTinyint => "UTINYINT",
        LogicalTypeId::USmallint => "USMALLINT",
        LogicalTypeId::UInteger => "UINTEGER",
        LogicalTypeId::UBigint => "UBIGINT",
        LogicalTypeId::UHugeint => "UHUGEINT",
        LogicalTypeId::Float => "FLOAT",
        LogicalTypeId::Double => "DOUBLE",
        LogicalTypeId::Varchar => "VARCHAR",
        LogicalTypeId::Blob => "BLOB",
        LogicalTypeId::Date => "DATE",
        LogicalTypeId::Time => "TIME",
        LogicalTypeId::TimeNs => "TIME_NS",
        LogicalTypeId::TimeTZ => "TIME WITH TIME ZONE",
        LogicalTypeId::Timestamp => "TIMESTAMP",
        LogicalTypeId::TimestampS => "TIMESTAMP_S",
        LogicalTypeId::TimestampMs => "TIMESTAMP_MS",
        LogicalTypeId::TimestampNs => "TIMESTAMP_NS",
        LogicalTypeId::TimestampTZ => "TIMESTAMP WITH TIME ZONE",
        LogicalTypeId::Interval => "INTERVAL",
        LogicalTypeId::Uuid => "UUID",
        LogicalTypeId::Enum => "ENUM",
        LogicalTypeId::Bit => "BIT",
        LogicalTypeId::Bignum => "BIGNUM",
        LogicalTypeId::SqlNull => "NULL",
        LogicalTypeId::Geometry => "GEOMETRY",
        LogicalTypeId::Variant => "VARIANT",
        _ => "",
    };
    if !simple.is_empty() {
        return simple.to_string();
    }
    match id {
        LogicalTypeId::Decimal => format!(
            "DECIMAL({},{})",
            logical_type.decimal_width(),
            logical_type.decimal_scale()
        ),
        LogicalTypeId::List => format!("{}[]", type_name(&logical_type.child(0))),
        LogicalTypeId::Array => format!("{}[]", type_name(&logical_type.child(0))),
        LogicalTypeId::Map => format!(
            "MAP({}, {})",
            type_name(&logical_type.child(0)),
            type_name(&logical_type.child(1))
        ),
        LogicalTypeId::Struct | LogicalTypeId::Union => {
            let members: Vec<String> = (0..logical_type.num_children())
                .map(|index| {
                    format!(
                        "{} {}",
                        logical_type.child_name(index),
                        type_name(&logical_type.child(index))
                    )
                })
                .collect();
            let keyword = if id == LogicalTypeId::Struct {
                "STRUCT"
            } else {
                "UNION"
            };
            format!("{keyword}({})", members.join(", "))
        }
        other => format!("{other:?}").to_uppercase(),
    }
}

fn cell(value: ValueRef<'_>, shape: &Shape) -> Cell {
    match (value, shape) {
        (ValueRef::Null, _) => Cell::Null,
        (ValueRef::Boolean(value), _) => Cell::Bool(value),
        (ValueRef::TinyInt(n), _) => Cell::Int(n.into()),
        (ValueRef::SmallInt(n), _) => Cell::Int(n.into()),
        (ValueRef::Int(n), _) => Cell::Int(n.into()),
        (ValueRef::BigInt(n), _) => Cell::Int(n),
        // Inside lists and structs, UHUGEINT arrives in the signed carrier.
        (ValueRef::HugeInt(n), Shape::UHugeInt) => Cell::UHugeInt(n as u128),
        (ValueRef::HugeInt(n), _) => Cell::HugeInt(n),
        (ValueRef::UTinyInt(n), _) => Cell::UInt(n.into()),
        (ValueRef::USmallInt(n), _) => Cell::UInt(n.into()),
        (ValueRef::UInt(n), _) => Cell::UInt(n.into()),
        (ValueRef::UBigInt(n), _) => Cell::UInt(n),
        (ValueRef::UHugeInt(n), _) => Cell::UHugeInt(n),
        (ValueRef::Float(n), _) => Cell::Float(n),
        (ValueRef::Double(n), _) => Cell::Double(n),
        (ValueRef::Decimal(decimal), _) => Cell::Decimal(decimal.to_string()),
        (ValueRef::Timestamp(unit, value), Shape::TimestampTz) => {
            Cell::TimestampTz(micros(unit, value))
        }
        (ValueRef::Timestamp(TimeUnit::Nanosecond, value), Shape::TimestampNs) => {
            Cell::TimestampNs(value)
        }
        (ValueRef::Timestamp(unit, value), _) => Cell::Timestamp(micros(unit, value)),
        (ValueRef::Text(bytes), Shape::Json) => Cell::Json(text(bytes)),
        (ValueRef::Text(bytes), _) => Cell::Text(text(bytes)),
        (ValueRef::Blob(bytes) | ValueRef::Geometry(bytes), _) => Cell::Blob(bytes.to_vec()),
        (ValueRef::Date32(days), _) => Cell::Date(days),
        (ValueRef::Time64(unit, value), _) => Cell::Time(micros(unit, value)),
        (
            ValueRef::Interval {
                months,
                days,
                nanos,
            },
            _,
        ) => Cell::Interval {
            months,
            days,
            micros: nanos / 1000,
        },
        (nested, shape) => owned_cell(nested.to_owned(), shape),
    }
}

/// Values inside lists, structs and maps, which the DuckDB crate hands over owned.
fn owned_cell(value: Value, shape: &Shape) -> Cell {
    let plain = Shape::Plain;
    match (value, shape) {
        (Value::Text(text) | Value::Enum(text), Shape::Json) => Cell::Json(text),
        (Value::Text(text) | Value::Enum(text), _) => Cell::Text(text),
        (Value::Blob(bytes) | Value::Geometry(bytes), _) => Cell::Blob(bytes),
        (Value::List(items) | Value::Array(items), shape) => {
            let item_shape = match shape {
                Shape::List(item) => item.as_ref(),
                _ => &plain,
            };
            Cell::List(
                items
                    .into_iter()
                    .map(|item| owned_cell(item, item_shape))
                    .collect(),
            )
        }
        (Value::Struct(fields), shape) => {
            let field_shapes = match shape {
                Shape::Struct(shapes) => shapes.as_slice(),
                _ => &[],
            };
            Cell::Struct(
                fields
                    .iter()
                    .enumerate()
                    .map(|(index, (name, value))| {
                        let field_shape = field_shapes.get(index).unwrap_or(&plain);
                        (name.clone(), owned_cell(value.clone(), field_shape))
                    })
                    .collect(),
            )
        }
        (Value::Map(entries), shape) => {
            let (key_shape, value_shape) = match shape {
                Shape::Map(key, value) => (key.as_ref(), value.as_ref()),
                _ => (&plain, &plain),
            };
            Cell::Map(
                entries
                    .iter()
                    .map(|(key, value)| {
                        (
                            owned_cell(key.clone(), key_shape),
                            owned_cell(value.clone(), value_shape),
                        )
                    })
                    .collect(),
            )
        }
        (Value::Union(member), _) => owned_cell(*member, &plain),
        (scalar, shape) => cell(ValueRef::from(&scalar), shape),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Instants in microseconds; DuckDB's infinities (`±i64::MAX`) stay infinities.
fn micros(unit: TimeUnit, value: i64) -> i64 {
    let factor = match unit {
        TimeUnit::Second => 1_000_000,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1,
        TimeUnit::Nanosecond => return value / 1_000,
    };
    if value == i64::MAX || value == -i64::MAX {
        return value;
    }
    value.saturating_mul(factor)
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
            "Parser Error: syntax error at or near \"SELEC\"\n\nLINE 1: SELEC 1\n        ^"
        );
    }
}
