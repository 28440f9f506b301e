//! Store, helper: the DuckDB C API calls the `duckdb` crate does not offer, kept in
//! this one file behind a safe interface: opening the database ourselves (so a second
//! connection can share it) and appending whole data chunks, column by column.
//!
//! The import writer appends hundreds of thousands of rows; building 2,048-row chunks
//! costs about half of what the row-at-a-time appender does (measured: 0.71 s against
//! 1.46 s for 200,000 postback-shaped rows).

use std::ffi::{CStr, CString, c_char};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use duckdb::ffi;

/// What went wrong in a call of the C API: DuckDB's own message where it gave one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawError {
    /// DuckDB refused a call; its message, or what we asked when it gave none.
    #[error("{0}")]
    DuckDb(String),
    /// An appender refused a row or a chunk.
    #[error("appending to {table}: {message}")]
    Append { table: String, message: String },
    /// A row was ended before every column had its value.
    #[error("appending to {table}: a row was ended without a value for column {column}")]
    IncompleteRow { table: String, column: String },
    /// A column of a row was given a value twice (another was then likely left out).
    #[error("appending to {table}: a row was given two values for column {column}")]
    DoubledColumn { table: String, column: String },
    /// A name, a setting or SQL holds a NUL byte, which C strings cannot carry.
    #[error("{0:?} contains a NUL byte")]
    Nul(String),
}

/// A DuckDB configuration, destroyed when dropped (also on an early return).
struct Config(ffi::duckdb_config);

impl Config {
    fn new(settings: &[(&str, &str)]) -> Result<Self, RawError> {
        let mut config = Config(ptr::null_mut());
        // SAFETY: DuckDB fills in the pointer; `Drop` destroys it once.
        if unsafe { ffi::duckdb_create_config(&mut config.0) } != ffi::DuckDBSuccess {
            return Err(RawError::DuckDb(
                "cannot create a DuckDB configuration".to_string(),
            ));
        }
        for (name, value) in settings {
            let (c_name, c_value) = (c_string(name)?, c_string(value)?);
            // SAFETY: a valid configuration and C strings; DuckDB copies both.
            let state =
                unsafe { ffi::duckdb_set_config(config.0, c_name.as_ptr(), c_value.as_ptr()) };
            if state != ffi::DuckDBSuccess {
                return Err(RawError::DuckDb(format!(
                    "DuckDB does not accept the setting {name} = {value:?}"
                )));
            }
        }
        Ok(config)
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: created by duckdb_create_config (or still null, which DuckDB ignores).
        unsafe { ffi::duckdb_destroy_config(&mut self.0) }
    }
}

/// An open database file. Connections borrow it, so it outlives them.
pub struct Database {
    handle: ffi::duckdb_database,
}

impl Database {
    /// Open `path` with `settings` (name, value); the error is DuckDB's message.
    /// The path is passed to DuckDB as its exact bytes, so a name that is not UTF-8
    /// opens the very file that was checked, not its lossy look-alike.
    pub fn open(path: &Path, settings: &[(&str, &str)]) -> Result<Self, RawError> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| RawError::Nul(path.to_string_lossy().into_owned()))?;
        let config = Config::new(settings)?;
        let mut handle: ffi::duckdb_database = ptr::null_mut();
        let mut error: *mut c_char = ptr::null_mut();
        // SAFETY: every pointer passed is valid for the call; DuckDB allocates `error`
        // only on failure, and it is freed below.
        let state =
            unsafe { ffi::duckdb_open_ext(c_path.as_ptr(), &mut handle, config.0, &mut error) };
        if state == ffi::DuckDBSuccess {
            return Ok(Database { handle });
        }
        // SAFETY: null or a C string DuckDB allocated for us, freed once.
        let message = unsafe {
            let message = message(error, "cannot open the database");
            if !error.is_null() {
                ffi::duckdb_free(error.cast());
            }
            message
        };
        Err(RawError::DuckDb(message))
    }

    /// How many statements `sql` holds, as DuckDB's parser splits it, without running
    /// any (the `duckdb` crate runs all but the last when it prepares several).
    pub fn statement_count(&self, sql: &str) -> Result<usize, RawError> {
        let c_sql = c_string(sql)?;
        let connection = self.raw_connection()?;
        let mut extracted: ffi::duckdb_extracted_statements = ptr::null_mut();
        // SAFETY: an open connection and a valid C string; the extracted statements
        // are destroyed below, after their error is read.
        unsafe {
            let count =
                ffi::duckdb_extract_statements(connection.handle, c_sql.as_ptr(), &mut extracted);
            let result = if count == 0 {
                let error = ffi::duckdb_extract_statements_error(extracted);
                if error.is_null() {
                    Ok(0)
                } else {
                    Err(RawError::DuckDb(message(error, "the SQL cannot be parsed")))
                }
            } else {
                Ok(count as usize)
            };
            ffi::duckdb_destroy_extracted(&mut extracted);
            result
        }
    }

    /// Run `work` with a `duckdb` crate connection that is closed when it returns, for
    /// set-up on a database that is not kept in an [`Opened`]. (The crate's
    /// `Connection::try_clone` could still copy the connection out of `work`; no caller
    /// may, and none does.)
    pub(in crate::store) fn with_connection<T>(
        &self,
        work: impl FnOnce(&duckdb::Connection) -> T,
    ) -> Result<T, duckdb::Error> {
        // SAFETY: the handle is open while `self` is borrowed, and the connection is
        // dropped at the end of this call, before `self` can be.
        let conn = unsafe { duckdb::Connection::open_from_raw(self.handle) }?;
        Ok(work(&conn))
    }

    /// A `duckdb` crate connection of its own, which borrows the database, for a
    /// reader that works beside the archive's connection (the walk's ledger lookups).
    pub fn bound_connection(&self) -> Result<BoundConnection<'_>, duckdb::Error> {
        // SAFETY: the handle is open while `self` is borrowed; the connection lives in
        // a value that borrows `self`, so it is closed first, and never handed out.
        let conn = unsafe { duckdb::Connection::open_from_raw(self.handle) }?;
        Ok(BoundConnection {
            conn,
            database: PhantomData,
        })
    }

    /// A connection of our own, for a writer that appends data chunks.
    pub fn raw_connection(&self) -> Result<RawConnection<'_>, RawError> {
        let mut handle: ffi::duckdb_connection = ptr::null_mut();
        // SAFETY: the database handle is open for the lifetime of `self`.
        if unsafe { ffi::duckdb_connect(self.handle, &mut handle) } != ffi::DuckDBSuccess {
            return Err(RawError::DuckDb(
                "cannot connect to the database".to_string(),
            ));
        }
        Ok(RawConnection {
            handle,
            database: PhantomData,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: closing an open handle once; connections borrowing it are gone.
        unsafe { ffi::duckdb_close(&mut self.handle) }
    }
}

/// A database with the `duckdb` crate connection kept open on it: the one way to hold
/// such a connection beyond a call. The connection is declared first, so it is closed
/// before the database it points into.
pub struct Opened {
    conn: duckdb::Connection,
    database: Database,
}

impl Opened {
    pub fn new(database: Database) -> Result<Self, duckdb::Error> {
        // SAFETY: the handle is open, and the connection lives in this struct beside
        // the database, dropped before it (fields drop in declaration order).
        let conn = unsafe { duckdb::Connection::open_from_raw(database.handle) }?;
        Ok(Opened { conn, database })
    }

    pub(in crate::store) fn connection(&self) -> &duckdb::Connection {
        &self.conn
    }

    pub fn database(&self) -> &Database {
        &self.database
    }
}

/// A `duckdb` crate connection that cannot outlive its database (see
/// [`Database::bound_connection`]).
pub struct BoundConnection<'db> {
    conn: duckdb::Connection,
    database: PhantomData<&'db ()>,
}

impl BoundConnection<'_> {
    /// For the store's own queries only (the same caution as [`Opened::connection`]).
    pub(in crate::store) fn connection(&self) -> &duckdb::Connection {
        &self.conn
    }
}

/// A connection that runs plain SQL and creates chunk appenders.
pub struct RawConnection<'db> {
    handle: ffi::duckdb_connection,
    database: PhantomData<&'db Database>,
}

impl RawConnection<'_> {
    /// Run SQL without parameters or results; the error is DuckDB's message.
    pub fn execute(&self, sql: &str) -> Result<(), RawError> {
        let c_sql = c_string(sql)?;
        // SAFETY: duckdb_result is a plain C struct DuckDB fills in; destroyed below.
        unsafe {
            let mut result: ffi::duckdb_result = std::mem::zeroed();
            let state = ffi::duckdb_query(self.handle, c_sql.as_ptr(), &mut result);
            let error = if state == ffi::DuckDBSuccess {
                None
            } else {
                Some(RawError::DuckDb(message(
                    ffi::duckdb_result_error(&mut result),
                    "query failed",
                )))
            };
            ffi::duckdb_destroy_result(&mut result);
            error.map_or(Ok(()), Err)
        }
    }

    /// An appender for `columns` of `table` (in the `temp` catalog when `temporary`),
    /// in that order: the `set_*` methods take a position in `columns`, whatever the
    /// order of the table's own columns. The others get their default (NULL).
    pub fn appender(
        &self,
        table: &str,
        temporary: bool,
        columns: &[&str],
    ) -> Result<ChunkAppender<'_>, RawError> {
        let c_table = c_string(table)?;
        let catalog = temporary.then(|| c_string("temp")).transpose()?;
        let catalog_ptr = catalog.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        let mut handle: ffi::duckdb_appender = ptr::null_mut();
        // SAFETY: valid C strings and an open connection; the appender is destroyed on drop.
        let state = unsafe {
            ffi::duckdb_appender_create_ext(
                self.handle,
                catalog_ptr,
                ptr::null(),
                c_table.as_ptr(),
                &mut handle,
            )
        };
        let names = columns.iter().map(|c| c.to_string()).collect();
        let mut appender = ChunkAppender::new(handle, table, names);
        if state != ffi::DuckDBSuccess {
            return Err(appender.error());
        }
        for column in columns {
            let c_column = c_string(column)?;
            // SAFETY: a valid appender and C string; DuckDB copies the name.
            let state = unsafe { ffi::duckdb_appender_add_column(handle, c_column.as_ptr()) };
            if state != ffi::DuckDBSuccess {
                return Err(appender.error_about(&format!(" (column {column})")));
            }
        }
        appender.create_chunk();
        Ok(appender)
    }
}

impl Drop for RawConnection<'_> {
    fn drop(&mut self) {
        // SAFETY: disconnecting an open handle once.
        unsafe { ffi::duckdb_disconnect(&mut self.handle) }
    }
}

/// The column types a [`ChunkAppender`] can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    UHugeInt,
    Timestamp,
    Varchar,
}

/// Appends rows to one table a 2,048-row data chunk at a time. Set each column of a
/// row with the `set_*` methods, then call [`ChunkAppender::end_row`].
pub struct ChunkAppender<'c> {
    handle: ffi::duckdb_appender,
    table: String,
    kinds: Vec<Kind>,
    chunk: ffi::duckdb_data_chunk,
    vectors: Vec<ffi::duckdb_vector>,
    data: Vec<*mut u8>,
    row: usize,
    /// The columns the appender was opened on, for messages.
    columns: Vec<String>,
    /// Which columns the current row has a value for, checked by `end_row`: a column
    /// left unset would keep whatever the chunk's slot held (for a string, nothing
    /// DuckDB may read), so a row with a column unset or set twice never reaches it.
    set_in_row: Vec<bool>,
    /// The first column of the current row that was given a second value.
    doubled: Option<usize>,
    capacity: usize,
    chunks_buffered: usize,
    connection: PhantomData<&'c ()>,
}

/// Chunks an appender buffers before handing them to the transaction (16,384 rows).
const CHUNKS_PER_FLUSH: usize = 8;

impl ChunkAppender<'_> {
    fn new(handle: ffi::duckdb_appender, table: &str, columns: Vec<String>) -> Self {
        ChunkAppender {
            handle,
            table: table.to_string(),
            kinds: Vec::new(),
            chunk: ptr::null_mut(),
            vectors: Vec::new(),
            data: Vec::new(),
            row: 0,
            set_in_row: vec![false; columns.len()],
            columns,
            doubled: None,
            // SAFETY: a constant of the library.
            capacity: unsafe { ffi::duckdb_vector_size() } as usize,
            chunks_buffered: 0,
            connection: PhantomData,
        }
    }

    /// A chunk with the table's own column types, so DuckDB appends it without casting.
    fn create_chunk(&mut self) {
        // SAFETY: the appender is valid; the logical types are destroyed after use.
        unsafe {
            let count = ffi::duckdb_appender_column_count(self.handle);
            let mut types: Vec<ffi::duckdb_logical_type> = (0..count)
                .map(|i| ffi::duckdb_appender_column_type(self.handle, i))
                .collect();
            self.kinds = types
                .iter()
                .map(|t| kind_of(ffi::duckdb_get_type_id(*t), &self.table))
                .collect();
            self.chunk = ffi::duckdb_create_data_chunk(types.as_mut_ptr(), count);
            for mut logical_type in types {
                ffi::duckdb_destroy_logical_type(&mut logical_type);
            }
        }
        self.fetch_vectors();
    }

    /// Vector and data pointers change when a chunk is reset; fetch them again.
    fn fetch_vectors(&mut self) {
        // SAFETY: the chunk is valid and has one vector per column.
        unsafe {
            self.vectors = (0..self.kinds.len())
                .map(|i| ffi::duckdb_data_chunk_get_vector(self.chunk, i as u64))
                .collect();
            self.data = self
                .vectors
                .iter()
                .map(|v| ffi::duckdb_vector_get_data(*v).cast())
                .collect();
        }
    }

    /// The checks every `set_*` relies on for its unsafe write: the row is inside the
    /// chunk (`end_row` hands a full chunk on before the row could reach `capacity`), and
    /// the column exists and holds `kind`. A failure is a bug of the writer, not input.
    fn check(&self, column: usize, kind: Kind) {
        assert!(
            self.row < self.capacity,
            "row {} of a {}-row chunk",
            self.row,
            self.capacity
        );
        assert_eq!(
            self.kinds.get(column),
            Some(&kind),
            "column {column} of {} is not {kind:?}",
            self.table
        );
    }

    fn slot<T>(&mut self, column: usize, kind: Kind) -> *mut T {
        self.check(column, kind);
        // SAFETY: `check` made sure that `row < capacity` and that the column holds
        // `kind`, whose values are `T` (each `set_*` pairs them); the vector's data holds
        // `capacity` values of `T`.
        unsafe { self.data[column].cast::<T>().add(self.row) }
    }

    /// Note that `column` of the current row has its value.
    fn mark(&mut self, column: usize) {
        match self.set_in_row.get_mut(column) {
            Some(set) if !*set => *set = true,
            _ => {
                self.doubled.get_or_insert(column);
            }
        }
    }

    /// NULL in any column.
    pub fn set_null(&mut self, column: usize) {
        assert!(self.row < self.capacity && column < self.vectors.len());
        self.mark(column);
        // SAFETY: the vector is valid and `row` is within it (checked above); its
        // validity mask is made writable first.
        unsafe {
            let vector = self.vectors[column];
            ffi::duckdb_vector_ensure_validity_writable(vector);
            ffi::duckdb_validity_set_row_invalid(
                ffi::duckdb_vector_get_validity(vector),
                self.row as u64,
            );
        }
    }

    fn set<T>(&mut self, column: usize, kind: Kind, value: Option<T>) {
        match value {
            Some(value) => {
                self.mark(column);
                // SAFETY: `slot` checked the column's type and the row's bound.
                unsafe { self.slot::<T>(column, kind).write(value) }
            }
            None => self.set_null(column),
        }
    }

    pub fn set_bool(&mut self, column: usize, value: Option<bool>) {
        self.set(column, Kind::Boolean, value);
    }

    pub fn set_i16(&mut self, column: usize, value: Option<i16>) {
        self.set(column, Kind::SmallInt, value);
    }

    pub fn set_i32(&mut self, column: usize, value: Option<i32>) {
        self.set(column, Kind::Integer, value);
    }

    pub fn set_i64(&mut self, column: usize, value: Option<i64>) {
        self.set(column, Kind::BigInt, value);
    }

    /// A `TIMESTAMP`: microseconds since the epoch.
    pub fn set_timestamp(&mut self, column: usize, micros: Option<i64>) {
        self.set(column, Kind::Timestamp, micros);
    }

    pub fn set_u128(&mut self, column: usize, value: Option<u128>) {
        let value = value.map(|v| ffi::duckdb_uhugeint {
            lower: v as u64,
            upper: (v >> 64) as u64,
        });
        self.set(column, Kind::UHugeInt, value);
    }

    /// VARCHAR (and JSON, a VARCHAR with an alias); DuckDB copies the text.
    pub fn set_str(&mut self, column: usize, value: Option<&str>) {
        self.check(column, Kind::Varchar);
        match value {
            Some(text) => {
                self.mark(column);
                // SAFETY: the vector is valid and `row` is within the chunk; DuckDB copies
                // the bytes. A `&str` is valid UTF-8, so DuckDB's own check is skipped.
                unsafe {
                    ffi::duckdb_unsafe_vector_assign_string_element_len(
                        self.vectors[column],
                        self.row as u64,
                        text.as_ptr().cast::<c_char>(),
                        text.len() as u64,
                    );
                }
            }
            None => self.set_null(column),
        }
    }

    /// Finish the current row, which must have exactly one value for every column; a
    /// full chunk goes to DuckDB. A row refused here is dropped: its slot is written
    /// again by the next row.
    pub fn end_row(&mut self) -> Result<(), RawError> {
        let doubled = self.doubled.take();
        let unset = self.set_in_row.iter().position(|set| !set);
        self.set_in_row.fill(false);
        let name = |column: usize| self.columns.get(column).cloned().unwrap_or_default();
        if let Some(column) = doubled {
            return Err(RawError::DoubledColumn {
                table: self.table.clone(),
                column: name(column),
            });
        }
        if let Some(column) = unset {
            return Err(RawError::IncompleteRow {
                table: self.table.clone(),
                column: name(column),
            });
        }
        self.row += 1;
        if self.row == self.capacity {
            self.append_chunk()
        } else {
            Ok(())
        }
    }

    fn append_chunk(&mut self) -> Result<(), RawError> {
        if self.row == 0 {
            return Ok(());
        }
        // SAFETY: the chunk holds `row` complete rows of the appender's own types.
        let state = unsafe {
            ffi::duckdb_data_chunk_set_size(self.chunk, self.row as u64);
            let state = ffi::duckdb_append_data_chunk(self.handle, self.chunk);
            ffi::duckdb_data_chunk_reset(self.chunk);
            state
        };
        self.row = 0;
        self.fetch_vectors();
        if state != ffi::DuckDBSuccess {
            return Err(self.error());
        }
        // DuckDB's appender keeps chunks until it is flushed: hand them to the
        // transaction every few chunks so that a batch does not sit in memory twice.
        self.chunks_buffered += 1;
        if self.chunks_buffered == CHUNKS_PER_FLUSH {
            self.flush_buffered()
        } else {
            Ok(())
        }
    }

    fn flush_buffered(&mut self) -> Result<(), RawError> {
        self.chunks_buffered = 0;
        // SAFETY: the appender is valid.
        if unsafe { ffi::duckdb_appender_flush(self.handle) } == ffi::DuckDBSuccess {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Hand every appended row to the connection's transaction.
    pub fn flush(&mut self) -> Result<(), RawError> {
        self.append_chunk()?;
        self.flush_buffered()
    }

    fn error(&self) -> RawError {
        self.error_about("")
    }

    /// The appender's error, with `about` added to DuckDB's message.
    fn error_about(&self, about: &str) -> RawError {
        // SAFETY: the appender owns its error message (null before any error).
        let detail = unsafe { message(ffi::duckdb_appender_error(self.handle), "append failed") };
        RawError::Append {
            table: self.table.clone(),
            message: format!("{detail}{about}"),
        }
    }
}

impl Drop for ChunkAppender<'_> {
    fn drop(&mut self) {
        // SAFETY: destroying what `new`/`create_chunk` created, once. Chunks handed to
        // the appender but not flushed are cleared first, because destroying an
        // appender flushes what it holds: the writer flushes explicitly and checks
        // the result, so what reaches this point belongs to a batch being abandoned.
        unsafe {
            if !self.chunk.is_null() {
                ffi::duckdb_destroy_data_chunk(&mut self.chunk);
            }
            ffi::duckdb_appender_clear(self.handle);
            ffi::duckdb_appender_destroy(&mut self.handle);
        }
    }
}

fn kind_of(type_id: ffi::DUCKDB_TYPE, table: &str) -> Kind {
    match type_id {
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN => Kind::Boolean,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_SMALLINT => Kind::SmallInt,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER => Kind::Integer,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT => Kind::BigInt,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_UHUGEINT => Kind::UHugeInt,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP => Kind::Timestamp,
        ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR => Kind::Varchar,
        other => panic!(
            "{table} has a column of DuckDB type {other}, which the chunk appender does not write"
        ),
    }
}

fn c_string(text: &str) -> Result<CString, RawError> {
    CString::new(text).map_err(|_| RawError::Nul(text.to_string()))
}

/// # Safety
/// `text` is null or a valid C string.
unsafe fn message(text: *const c_char, fallback: &str) -> String {
    if text.is_null() {
        fallback.to_string()
    } else {
        // SAFETY: non-null and NUL-terminated per the contract.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_every_kind_across_several_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::open(&dir.path().join("t.duckdb"), &[]).unwrap();
        let raw = database.raw_connection().unwrap();
        raw.execute("CREATE TABLE t (b BOOLEAN, s SMALLINT, i INTEGER, l BIGINT, h UHUGEINT, ts TIMESTAMP, v VARCHAR, j JSON)")
            .unwrap();
        raw.execute("BEGIN").unwrap();
        let columns = ["b", "s", "i", "l", "h", "ts", "v", "j"];
        let mut appender = raw.appender("t", false, &columns).unwrap();
        for n in 0..5000_i64 {
            let null = n % 3 == 0;
            appender.set_bool(0, (!null).then_some(n % 2 == 0));
            appender.set_i16(1, Some(n as i16));
            appender.set_i32(2, (!null).then_some(n as i32));
            appender.set_i64(3, Some(n * 1_000_000_007));
            appender.set_u128(4, Some(u128::MAX - n as u128));
            appender.set_timestamp(5, (!null).then_some(n * 1_000_000));
            appender.set_str(
                6,
                (!null)
                    .then(|| format!("row {n} with a longer text than twelve"))
                    .as_deref(),
            );
            appender.set_str(7, Some("[1]"));
            appender.end_row().unwrap();
        }
        appender.flush().unwrap();
        drop(appender);
        raw.execute("COMMIT").unwrap();
        let row: (i64, i64, String, String, String) = database
            .with_connection(|conn| {
                conn.query_row(
                    "SELECT count(*), count(i), max(h)::VARCHAR, max(v), (SELECT ts::VARCHAR FROM t WHERE l = 4999::BIGINT * 1000000007)
                     FROM t",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
            })
            .unwrap()
            .unwrap();
        assert_eq!(
            row,
            (
                5000,
                3333,
                u128::MAX.to_string(),
                "row 998 with a longer text than twelve".to_string(),
                "1970-01-01 01:23:19".to_string()
            )
        );
    }

    #[test]
    fn appends_named_columns_in_any_order_and_refuses_an_incomplete_row() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::open(&dir.path().join("t.duckdb"), &[]).unwrap();
        let raw = database.raw_connection().unwrap();
        raw.execute("CREATE TABLE t (a INTEGER, b VARCHAR, c BIGINT DEFAULT 7)")
            .unwrap();
        let mut appender = raw.appender("t", false, &["b", "a"]).unwrap();
        appender.set_str(0, Some("second"));
        appender.set_i32(1, Some(1));
        appender.end_row().unwrap();
        appender.set_str(0, Some("left out a"));
        assert_eq!(
            appender.end_row().unwrap_err().to_string(),
            "appending to t: a row was ended without a value for column a"
        );
        // As many values as columns, but b twice and a never: refused, not counted.
        appender.set_str(0, Some("b once"));
        appender.set_str(0, Some("b twice"));
        assert_eq!(
            appender.end_row().unwrap_err().to_string(),
            "appending to t: a row was given two values for column b"
        );
        appender.flush().unwrap();
        drop(appender);
        let row: (i32, String, i64) = database
            .with_connection(|conn| {
                conn.query_row("SELECT a, b, c FROM t", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
            })
            .unwrap()
            .unwrap();
        assert_eq!(row, (1, "second".to_string(), 7));
        let unknown = raw
            .appender("t", false, &["a", "nope"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            unknown.starts_with("appending to t: ") && unknown.ends_with(" (column nope)"),
            "{unknown}"
        );
    }

    /// Destroying an appender would flush what it holds; a dropped one discards it.
    #[test]
    fn rows_not_flushed_are_discarded_when_the_appender_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::open(&dir.path().join("t.duckdb"), &[]).unwrap();
        let raw = database.raw_connection().unwrap();
        raw.execute("CREATE TABLE t (a INTEGER)").unwrap();
        let mut appender = raw.appender("t", false, &["a"]).unwrap();
        // More than a chunk: 2,048 rows are handed to DuckDB's appender, the rest wait.
        for n in 0..3000 {
            appender.set_i32(0, Some(n));
            appender.end_row().unwrap();
        }
        drop(appender);
        let mut flushed = raw.appender("t", false, &["a"]).unwrap();
        flushed.set_i32(0, Some(7));
        flushed.end_row().unwrap();
        flushed.flush().unwrap();
        drop(flushed);
        let rows: (i64, i64) = database
            .with_connection(|conn| {
                conn.query_row("SELECT count(*), sum(a) FROM t", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
            })
            .unwrap()
            .unwrap();
        assert_eq!(rows, (1, 7));
    }

    #[test]
    fn reports_duckdbs_own_errors() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::open(&dir.path().join("t.duckdb"), &[]).unwrap();
        let raw = database.raw_connection().unwrap();
        assert_eq!(
            raw.execute("SELEC 1")
                .unwrap_err()
                .to_string()
                .lines()
                .next()
                .unwrap(),
            "Parser Error: syntax error at or near \"SELEC\""
        );
        let missing = raw
            .appender("missing", false, &[])
            .err()
            .unwrap()
            .to_string();
        assert!(missing.starts_with("appending to missing: "), "{missing}");
    }

    #[test]
    fn a_refused_setting_is_named_and_its_configuration_freed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.duckdb");
        let nul = Database::open(&path, &[("threads", "1\0")]).err().unwrap();
        assert_eq!(nul, RawError::Nul("1\0".to_string()));
        let unknown = Database::open(&path, &[("no_such_setting", "1")])
            .err()
            .unwrap();
        assert_eq!(
            unknown.to_string(),
            "Invalid Input Error: The following options were not recognized: no_such_setting"
        );
        // The database opens afterwards: nothing of the refused attempts lingers.
        let database = Database::open(&path, &[("threads", "1")]).unwrap();
        let threads: i64 = database
            .with_connection(|conn| {
                conn.query_row("SELECT current_setting('threads')", [], |r| r.get(0))
            })
            .unwrap()
            .unwrap();
        assert_eq!(threads, 1);
    }
}
