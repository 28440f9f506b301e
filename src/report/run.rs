//! Report, helper: run one report for a period (store -> **report**): hand the store
//! the period's local days and hours, bind the parameters the header declares, and
//! stream the rows to a receiver.

use crate::output::OutputError;
use crate::store::Archive;
use crate::store::query::{Param, QueryError, run_query_named};
use crate::store::report_inputs::set_period;
use crate::value::{Cell, Column, RowReceiver};

use super::header::ParamName;
use super::period::Period;
use super::{Report, ReportError, Source};

/// Run `report` for `period`, sending its columns and rows to `receiver`.
pub fn run_report<R>(
    archive: &Archive,
    report: &Report,
    period: &Period,
    receiver: &mut R,
) -> Result<(), ReportError>
where
    R: RowReceiver<Error = OutputError> + ?Sized,
{
    set_period(archive, &period.days(), &period.hours())?;
    let params = bindings(report, period);
    run_query_named(archive, &report.sql, &params, receiver).map_err(|error| match error {
        QueryError::Receiver(error) => ReportError::Output(error),
        QueryError::NotOneStatement { .. } => ReportError::NotOneStatement {
            path: match &report.source {
                Source::User(path) => path.clone(),
                Source::Canned => format!("sql/reports/{}.sql", report.name()).into(),
            },
            message: error.to_string(),
        },
        QueryError::UnknownParameter { .. } => ReportError::Sql {
            report: report.name().to_string(),
            message: format!(
                "{error}; declare it in the header with `-- param: NAME`, where NAME is one of {}",
                ParamName::ALL.map(ParamName::as_str).join(", ")
            ),
        },
        error => ReportError::Sql {
            report: report.name().to_string(),
            message: error.to_string(),
        },
    })
}

/// The value of each parameter `report` declares, for `period`. Only declared ones
/// are bound, so SQL that reads an undeclared `$name` fails with a message naming it.
fn bindings(report: &Report, period: &Period) -> Vec<(&'static str, Param)> {
    report
        .header
        .params
        .iter()
        .map(|param| {
            let value = match param.name {
                ParamName::From => Param::Timestamp(period.starts().naive_utc()),
                ParamName::To => Param::Timestamp(period.ends().naive_utc()),
                ParamName::Days => Param::Int(period.day_count()),
                ParamName::PreviousFrom => Param::Timestamp(period.previous().starts().naive_utc()),
                ParamName::Tz => Param::Text(period.zone().name().to_string()),
            };
            (param.name.as_str(), value)
        })
        .collect()
}

/// A report's result held in memory, for the pages and summaries built from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collected {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl RowReceiver for Collected {
    type Error = OutputError;

    fn columns(&mut self, columns: &[Column]) -> Result<(), OutputError> {
        self.columns = columns.to_vec();
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), OutputError> {
        self.rows.push(cells.to_vec());
        Ok(())
    }
}
