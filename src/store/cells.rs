//! Store, helper: DuckDB's values as [`Cell`]s, for [`super::query`] (store -> **report**).
//!
//! The output module that prints results never sees a DuckDB type: a column's logical
//! type decides its [`Shape`], and the shape how each value becomes a [`Cell`] (the
//! plain value types live in [`crate::value`]; only this conversion knows DuckDB).

use duckdb::arrow::datatypes::{DataType, IntervalUnit, TimeUnit as ArrowTimeUnit};
use duckdb::core::{LogicalTypeHandle, LogicalTypeId};
use duckdb::types::{TimeUnit, Value, ValueRef};

use crate::value::Cell;

/// What a column's logical type adds to the values DuckDB hands over: some types
/// arrive as plain text, plain instants or signed integers, and only the type tells
/// them apart, also inside lists, structs and maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Shape {
    Plain,
    Json,
    TimestampTz,
    TimestampNs,
    UHugeInt,
    List(Box<Shape>),
    Struct(Vec<Shape>),
    /// An unnamed struct (`ROW(1, 'a')`, DuckDB 2.0's TUPLE): its members have no names,
    /// though the values arrive with generated ones (`element1`).
    Tuple(Vec<Shape>),
    Map(Box<Shape>, Box<Shape>),
}

/// A struct whose members have no names: DuckDB's C API reports them empty.
fn is_tuple(logical_type: &LogicalTypeHandle) -> bool {
    let members = logical_type.num_children();
    members > 0 && (0..members).all(|index| logical_type.child_name(index).is_empty())
}

/// The shape of a logical type, or `None` for the types whose values would come out
/// wrong: DuckDB hands BIT and BIGNUM over as raw bytes, and TIME WITH TIME ZONE
/// without its offset.
pub(super) fn shape(logical_type: &LogicalTypeHandle) -> Option<Shape> {
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
        LogicalTypeId::Struct => {
            let members = (0..logical_type.num_children())
                .map(|index| shape(&logical_type.child(index)))
                .collect::<Option<_>>()?;
            if is_tuple(logical_type) {
                Shape::Tuple(members)
            } else {
                Shape::Struct(members)
            }
        }
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
pub(super) fn readable(data_type: &DataType) -> bool {
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
pub(super) fn type_name(logical_type: &LogicalTypeHandle) -> String {
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
        LogicalTypeId::Struct if is_tuple(logical_type) => {
            let members: Vec<String> = (0..logical_type.num_children())
                .map(|index| type_name(&logical_type.child(index)))
                .collect();
            format!("TUPLE({})", members.join(", "))
        }
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

pub(super) fn cell(value: ValueRef<'_>, shape: &Shape) -> Cell {
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
            let (field_shapes, unnamed) = match shape {
                Shape::Struct(shapes) => (shapes.as_slice(), false),
                Shape::Tuple(shapes) => (shapes.as_slice(), true),
                _ => (&[][..], false),
            };
            Cell::Struct(
                fields
                    .iter()
                    .enumerate()
                    .map(|(index, (name, value))| {
                        let field_shape = field_shapes.get(index).unwrap_or(&plain);
                        let name = if unnamed { String::new() } else { name.clone() };
                        (name, owned_cell(value.clone(), field_shape))
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
