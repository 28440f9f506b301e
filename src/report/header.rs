//! Report, helper: the header every report's SQL file starts with (store -> **report**).
//!
//! The header is the run of `--` comment lines at the top of the file, one
//! `-- key: value` per line; a value goes on over lines that start with `--` and two
//! or more spaces. It ends at the first line that is not a `--` comment:
//!
//! ```sql
//! -- name: failure-codes
//! -- title: Failure codes
//! -- description: Every failure notification code of the period, with its share and
//! --   the change against the previous period of the same length.
//! -- dated-by: each failure's own time
//! -- param: from  first instant of the period (UTC)
//! -- param: to    first instant after the period (UTC)
//! -- period: 1 day
//! -- chart: bars
//! -- chart-x: code
//! -- chart-series: failures, previous
//! -- chart-label: failures
//! ```

/// A value the report stage supplies and a report's SQL reads as `$name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamName {
    /// The first instant of the period, a UTC `TIMESTAMP`.
    From,
    /// The first instant after the period, a UTC `TIMESTAMP` (exclusive).
    To,
    /// How many local days the period has, an `INTEGER`.
    Days,
    /// The first instant of the period of as many days just before, a UTC `TIMESTAMP`.
    PreviousFrom,
    /// The time zone's IANA name, a `VARCHAR`.
    Tz,
}

impl ParamName {
    pub const ALL: [ParamName; 5] = [
        ParamName::From,
        ParamName::To,
        ParamName::Days,
        ParamName::PreviousFrom,
        ParamName::Tz,
    ];

    /// The name as SQL writes it after `$`.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamName::From => "from",
            ParamName::To => "to",
            ParamName::Days => "days",
            ParamName::PreviousFrom => "previous_from",
            ParamName::Tz => "tz",
        }
    }
}

/// A parameter a report declares, with what it means to that report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: ParamName,
    pub description: String,
}

/// How the HTML report draws a chart of a report's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Bars,
    StackedBars,
    HorizontalBars,
}

/// A chart of a report: `x` names the column along the axis, `series` the numeric
/// columns drawn for each of its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub kind: ChartKind,
    pub x: String,
    pub series: Vec<String>,
    pub y_label: String,
}

/// Everything a report's header says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Which clock puts a row in the period (`-- dated-by:`): the send's time, the
    /// receipt's, each postback's own. Empty when the header does not say.
    pub dated_by: String,
    pub params: Vec<Param>,
    /// How many days the report covers when no `--from` is given (`-- period:`).
    pub period_days: u32,
    pub chart: Option<Chart>,
}

/// A header that cannot be read: `line` is 1-based, in the report's file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct HeaderError {
    pub line: usize,
    pub message: String,
}

const KEYS: &str =
    "name, title, description, dated-by, param, period, chart, chart-x, chart-series, chart-label";

/// One `-- key: value` entry, its continuation lines joined.
struct Entry {
    line: usize,
    key: String,
    value: String,
}

/// Read the header at the top of `sql`.
pub fn parse(sql: &str) -> Result<Header, HeaderError> {
    let entries = entries(sql)?;
    let mut header = Header {
        name: String::new(),
        title: String::new(),
        description: String::new(),
        dated_by: String::new(),
        params: Vec::new(),
        period_days: 1,
        chart: None,
    };
    let mut chart = ChartEntries::default();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for entry in &entries {
        if entry.key != "param" {
            if let Some((_, first)) = seen.iter().find(|(key, _)| *key == entry.key) {
                return Err(error(
                    entry.line,
                    format!("`{}` is given twice (first on line {first})", entry.key),
                ));
            }
            seen.push((&entry.key, entry.line));
        }
        if entry.value.is_empty() {
            return Err(error(entry.line, format!("`{}` has no value", entry.key)));
        }
        let value = entry.value.clone();
        match entry.key.as_str() {
            "name" => header.name = report_name(entry)?,
            "title" => header.title = value,
            "description" => header.description = value,
            "dated-by" => header.dated_by = value,
            "param" => header.params.push(param(entry, &header.params)?),
            "period" => header.period_days = period_days(entry)?,
            "chart" => chart.kind = Some((entry.line, chart_kind(entry)?)),
            "chart-x" => chart.x = Some((entry.line, value)),
            "chart-series" => chart.series = Some((entry.line, series(&value))),
            "chart-label" => chart.y_label = Some(value),
            _ => unreachable!("entries() keeps known keys only"),
        }
    }
    check_required(&header)?;
    header.chart = chart.finish()?;
    Ok(header)
}

/// A report has a name, a title, a description and a period.
fn check_required(header: &Header) -> Result<(), HeaderError> {
    for (key, value) in [
        ("name", &header.name),
        ("title", &header.title),
        ("description", &header.description),
    ] {
        if value.is_empty() {
            return Err(error(1, format!("the header has no `-- {key}:` line")));
        }
    }
    for required in [ParamName::From, ParamName::To] {
        if !header.params.iter().any(|param| param.name == required) {
            return Err(error(
                1,
                format!(
                    "the header declares no period; add `-- param: from` and `-- param: to` (missing: {})",
                    required.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// The header's entries, continuation lines joined, unknown keys refused.
fn entries(sql: &str) -> Result<Vec<Entry>, HeaderError> {
    let mut entries: Vec<Entry> = Vec::new();
    for (index, line) in sql.lines().enumerate() {
        let number = index + 1;
        let Some(comment) = line.trim_start().strip_prefix("--") else {
            break;
        };
        if comment.trim().is_empty() {
            continue;
        }
        let indented = comment.starts_with("  ") || comment.starts_with('\t');
        match entries.last_mut() {
            Some(last) if indented => {
                last.value.push(' ');
                last.value.push_str(comment.trim());
                continue;
            }
            _ => {}
        }
        let Some((key, value)) = comment.trim().split_once(':') else {
            return Err(error(
                number,
                format!(
                    "expected `-- key: value`, found `{}`; the keys are {KEYS}",
                    line.trim()
                ),
            ));
        };
        let key = key.trim();
        if !KEYS.split(", ").any(|known| known == key) {
            return Err(error(
                number,
                format!("unknown header key `{key}`; the keys are {KEYS}"),
            ));
        }
        entries.push(Entry {
            line: number,
            key: key.to_string(),
            value: value.trim().to_string(),
        });
    }
    if entries.is_empty() {
        return Err(error(
            1,
            "a report starts with a header of `-- key: value` lines, beginning with `-- name: NAME`"
                .to_string(),
        ));
    }
    Ok(entries)
}

fn report_name(entry: &Entry) -> Result<String, HeaderError> {
    let name = &entry.value;
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(error(
            entry.line,
            format!(
                "the name `{name}` may use only a-z, 0-9, - and _, and must start with a letter or digit"
            ),
        ));
    }
    Ok(name.clone())
}

fn param(entry: &Entry, declared: &[Param]) -> Result<Param, HeaderError> {
    let (name, description) = entry
        .value
        .split_once(char::is_whitespace)
        .unwrap_or((&entry.value, ""));
    let Some(name) = ParamName::ALL.into_iter().find(|p| p.as_str() == name) else {
        let known: Vec<&str> = ParamName::ALL.iter().map(|p| p.as_str()).collect();
        return Err(error(
            entry.line,
            format!(
                "unknown parameter `{name}`; a report can use {}",
                known.join(", ")
            ),
        ));
    };
    if declared.iter().any(|param| param.name == name) {
        return Err(error(
            entry.line,
            format!("parameter `{}` is declared twice", name.as_str()),
        ));
    }
    Ok(Param {
        name,
        description: description.trim().to_string(),
    })
}

fn period_days(entry: &Entry) -> Result<u32, HeaderError> {
    let days = entry
        .value
        .strip_suffix(" days")
        .or_else(|| entry.value.strip_suffix(" day"))
        .and_then(|number| number.trim().parse::<u32>().ok())
        .filter(|days| (1..=366).contains(days));
    days.ok_or_else(|| {
        error(
            entry.line,
            format!(
                "expected `-- period: N days` with N from 1 to 366, found `{}`",
                entry.value
            ),
        )
    })
}

fn chart_kind(entry: &Entry) -> Result<ChartKind, HeaderError> {
    match entry.value.as_str() {
        "bars" => Ok(ChartKind::Bars),
        "stacked-bars" => Ok(ChartKind::StackedBars),
        "horizontal-bars" => Ok(ChartKind::HorizontalBars),
        other => Err(error(
            entry.line,
            format!("unknown chart `{other}`; use bars, stacked-bars or horizontal-bars"),
        )),
    }
}

fn series(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|column| !column.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `chart*` entries, checked together once the whole header is read.
#[derive(Default)]
struct ChartEntries {
    kind: Option<(usize, ChartKind)>,
    x: Option<(usize, String)>,
    series: Option<(usize, Vec<String>)>,
    y_label: Option<String>,
}

impl ChartEntries {
    fn finish(self) -> Result<Option<Chart>, HeaderError> {
        let Some((line, kind)) = self.kind else {
            let stray = self.x.map(|(line, _)| line).or(self.series.map(|(l, _)| l));
            return match stray {
                Some(line) => Err(error(
                    line,
                    "a chart-x or chart-series needs a `-- chart:` line".to_string(),
                )),
                None => Ok(None),
            };
        };
        let (Some((_, x)), Some((_, series))) = (self.x, self.series) else {
            return Err(error(
                line,
                "a chart needs `-- chart-x: COLUMN` and `-- chart-series: COLUMN, ...`".to_string(),
            ));
        };
        Ok(Some(Chart {
            kind,
            x,
            series,
            y_label: self.y_label.unwrap_or_default(),
        }))
    }
}

fn error(line: usize, message: String) -> HeaderError {
    HeaderError { line, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
-- name: failure-codes
-- title: Failure codes
-- description: Every failure code,
--   with its share.
-- dated-by: each failure's
--   own time
--
-- param: from  first instant
-- param: to    first instant after
-- period: 7 days
-- chart: bars
-- chart-x: code
-- chart-series: failures, previous
-- chart-label: failures

-- not part of the header: a free comment
SELECT 1
";

    #[test]
    fn reads_every_key_and_joins_continued_values() {
        let header = parse(GOOD).unwrap();
        assert_eq!(header.name, "failure-codes");
        assert_eq!(header.description, "Every failure code, with its share.");
        assert_eq!(header.dated_by, "each failure's own time");
        assert_eq!(
            header.params,
            [
                Param {
                    name: ParamName::From,
                    description: "first instant".into()
                },
                Param {
                    name: ParamName::To,
                    description: "first instant after".into()
                }
            ]
        );
        assert_eq!(header.period_days, 7);
        assert_eq!(
            header.chart,
            Some(Chart {
                kind: ChartKind::Bars,
                x: "code".into(),
                series: vec!["failures".into(), "previous".into()],
                y_label: "failures".into()
            })
        );
    }

    fn error_of(sql: &str) -> String {
        parse(sql).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_line_and_what_to_do() {
        let with = |line: &str| GOOD.replacen("-- period: 7 days", line, 1);
        assert_eq!(
            error_of(&with("-- period: a week")),
            "10: expected `-- period: N days` with N from 1 to 366, found `a week`"
        );
        assert_eq!(
            error_of(&with("-- owner: me")),
            "10: unknown header key `owner`; the keys are name, title, description, dated-by, param, period, chart, chart-x, chart-series, chart-label"
        );
        assert_eq!(
            error_of(&with("-- just words")),
            "10: expected `-- key: value`, found `-- just words`; the keys are name, title, description, dated-by, param, period, chart, chart-x, chart-series, chart-label"
        );
        assert_eq!(
            error_of(&with("-- param: carrier which carrier")),
            "10: unknown parameter `carrier`; a report can use from, to, days, previous_from, tz"
        );
        assert_eq!(
            error_of(&with("-- title: again")),
            "10: `title` is given twice (first on line 2)"
        );
        assert_eq!(
            error_of(&with("-- param: to")),
            "10: parameter `to` is declared twice"
        );
        assert_eq!(
            error_of(&with("-- chart: pie")),
            "10: unknown chart `pie`; use bars, stacked-bars or horizontal-bars"
        );
        assert_eq!(
            error_of(&GOOD.replacen("failure-codes", "Failure Codes", 1)),
            "1: the name `Failure Codes` may use only a-z, 0-9, - and _, and must start with a letter or digit"
        );
    }

    #[test]
    fn missing_parts_are_named() {
        assert_eq!(
            error_of("SELECT 1"),
            "1: a report starts with a header of `-- key: value` lines, beginning with `-- name: NAME`"
        );
        assert_eq!(
            error_of(&GOOD.replacen("-- title: Failure codes\n", "", 1)),
            "1: the header has no `-- title:` line"
        );
        assert_eq!(
            error_of(&GOOD.replacen("-- param: to    first instant after\n", "", 1)),
            "1: the header declares no period; add `-- param: from` and `-- param: to` (missing: to)"
        );
        assert_eq!(
            error_of(&GOOD.replacen("-- chart-x: code\n", "", 1)),
            "11: a chart needs `-- chart-x: COLUMN` and `-- chart-series: COLUMN, ...`"
        );
        assert_eq!(
            error_of(&GOOD.replacen("-- chart-label: failures", "-- chart-label:", 1)),
            "14: `chart-label` has no value"
        );
    }
}
