//! Values: the plain result types the store fills and the output prints
//! (store -> **value** -> report/output).
//!
//! A query's result is [`Column`]s and rows of [`Cell`]s, handed to a [`RowReceiver`].
//! None of them knows DuckDB: `store` converts DuckDB's values into them, and
//! `output` and `report` read them without importing the store.

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

/// Where a query's result goes ([`crate::store::query::run_query`] sends it; the output
/// prints it, a report keeps it): first its columns, then each row in order.
/// Returning an error stops the query.
pub trait RowReceiver {
    type Error;
    fn columns(&mut self, columns: &[Column]) -> Result<(), Self::Error>;
    fn row(&mut self, cells: &[Cell]) -> Result<(), Self::Error>;
}
