//! Historical lead data: a CSV file read into dictionary-encoded columns, and split files.
//!
//! Each kept column stores one `u32` code per row and the distinct texts once, so a
//! million-row file with a few dozen columns fits in a few hundred megabytes and every
//! per-value computation (parsing numbers, matching levels) runs once per distinct value.
//! The readers take any [`Read`]; opening files is the caller's business.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

/// One column: distinct values and a code per row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Column {
    /// Header name.
    pub name: String,
    dictionary: Vec<String>,
    codes: Vec<u32>,
}

impl Column {
    /// A column from its values (used for small in-memory tables).
    pub fn from_values<S: AsRef<str>>(name: &str, values: &[S]) -> Column {
        let mut b = ColumnBuilder::new(name);
        for v in values {
            b.push(v.as_ref());
        }
        b.finish()
    }

    /// The value in `row` (empty when out of range).
    pub fn value(&self, row: usize) -> &str {
        self.code(row)
            .and_then(|c| self.dictionary.get(c as usize))
            .map_or("", String::as_str)
    }

    /// The dictionary code of `row`.
    pub fn code(&self, row: usize) -> Option<u32> {
        self.codes.get(row).copied()
    }

    /// The distinct values, indexed by code.
    pub fn dictionary(&self) -> &[String] {
        &self.dictionary
    }

    /// One code per row.
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }
}

struct ColumnBuilder {
    name: String,
    index: HashMap<Box<str>, u32>,
    dictionary: Vec<String>,
    codes: Vec<u32>,
}

impl ColumnBuilder {
    fn new(name: &str) -> ColumnBuilder {
        ColumnBuilder {
            name: name.to_string(),
            index: HashMap::new(),
            dictionary: Vec::new(),
            codes: Vec::new(),
        }
    }

    fn push(&mut self, value: &str) {
        let code = match self.index.get(value) {
            Some(&c) => c,
            None => {
                let c = self.dictionary.len() as u32;
                self.index.insert(value.into(), c);
                self.dictionary.push(value.to_string());
                c
            }
        };
        self.codes.push(code);
    }

    fn finish(self) -> Column {
        Column {
            name: self.name,
            dictionary: self.dictionary,
            codes: self.codes,
        }
    }
}

/// A data file: the full header and the kept columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Every column name of the file, kept or not, in file order.
    pub header: Vec<String>,
    /// The kept columns, in file order.
    pub columns: Vec<Column>,
    /// Number of data rows.
    pub rows: usize,
}

impl Table {
    /// A table from in-memory columns of equal length.
    pub fn from_columns(columns: Vec<Column>) -> Table {
        let rows = columns.first().map_or(0, |c| c.codes.len());
        Table {
            header: columns.iter().map(|c| c.name.clone()).collect(),
            columns,
            rows,
        }
    }

    /// The kept column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Index of the kept column with this name.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// Why a data or split file could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum DataError {
    /// The CSV itself is malformed (bad quoting, invalid UTF-8 in the header, I/O error).
    Csv { line: u64, message: String },
    /// A row has a different number of fields than the header.
    Ragged {
        line: u64,
        fields: usize,
        expected: usize,
    },
    /// The file has no header line.
    NoHeader,
    /// Two header columns share a name.
    DuplicateColumn(String),
    /// A split file problem.
    Split { line: u64, message: String },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Csv { line, message } => write!(f, "line {line}: {message}"),
            DataError::Ragged { line, fields, expected } => write!(
                f,
                "line {line} has {fields} fields but the header has {expected} (ragged rows: check quoting and separators)"
            ),
            DataError::NoHeader => write!(f, "the file is empty: expected a header line"),
            DataError::DuplicateColumn(name) => write!(f, "the header names column {name:?} twice"),
            DataError::Split { line, message } => write!(f, "split file line {line}: {message}"),
        }
    }
}

impl std::error::Error for DataError {}

fn csv_error(e: &csv::Error) -> DataError {
    let line = e.position().map_or(0, csv::Position::line);
    DataError::Csv {
        line,
        message: e.to_string(),
    }
}

/// Reads a CSV file with a header line, keeping the columns for which `keep(name)` holds.
///
/// Field texts are kept as they are (no trimming); invalid UTF-8 is replaced. `progress` is
/// called now and then with the bytes read so far and the rows read so far.
pub fn read_csv<R: Read>(
    reader: R,
    keep: &dyn Fn(&str) -> bool,
    progress: &mut dyn FnMut(u64, usize),
) -> Result<Table, DataError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);
    let header: Vec<String> = csv
        .byte_headers()
        .map_err(|e| csv_error(&e))?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let text = String::from_utf8_lossy(h);
            let text = if i == 0 {
                text.trim_start_matches('\u{feff}')
            } else {
                &text
            };
            text.trim().to_string()
        })
        .collect();
    if header.is_empty() || (header.len() == 1 && header.first().is_some_and(String::is_empty)) {
        return Err(DataError::NoHeader);
    }
    let mut seen = std::collections::HashSet::new();
    for h in &header {
        if !seen.insert(h.as_str()) {
            return Err(DataError::DuplicateColumn(h.clone()));
        }
    }
    let kept: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| keep(h))
        .map(|(i, _)| i)
        .collect();
    let mut builders: Vec<ColumnBuilder> = kept
        .iter()
        .filter_map(|&i| header.get(i))
        .map(|h| ColumnBuilder::new(h))
        .collect();

    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(&e)),
        }
        if record.len() != header.len() {
            // A lone empty field is a blank line at the end of a one-column file; skip it.
            if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
                continue;
            }
            return Err(DataError::Ragged {
                line: record.position().map_or(0, csv::Position::line),
                fields: record.len(),
                expected: header.len(),
            });
        }
        for (b, &i) in builders.iter_mut().zip(&kept) {
            let field = record.get(i).unwrap_or(b"");
            match std::str::from_utf8(field) {
                Ok(s) => b.push(s),
                Err(_) => b.push(&String::from_utf8_lossy(field)),
            }
        }
        rows += 1;
        if rows % 16_384 == 0 {
            progress(record.position().map_or(0, csv::Position::byte), rows);
        }
    }
    progress(csv.position().byte(), rows);
    Ok(Table {
        header,
        columns: builders.into_iter().map(ColumnBuilder::finish).collect(),
        rows,
    })
}

/// Which part of a split a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Train,
    Test,
}

/// A split file: row id → train or test.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Split {
    /// The id column's name (the split file's first header field).
    pub id_column: String,
    /// Part per id.
    pub parts: HashMap<String, Part>,
}

/// A time-ordered split: rows sorted by `column` (numbers as numbers when every value is one,
/// else as text, e.g. ISO dates), the newest `test_share` of them `Test`, the rest `Train`.
/// Ties keep file order. Rows whose value is empty get no part.
pub fn ordered_split(column: &Column, test_share: f64) -> Vec<Option<Part>> {
    let n = column.codes().len();
    let dictionary = column.dictionary();
    let numbers: Vec<Option<f64>> = dictionary.iter().map(|v| parse_number(v)).collect();
    let numeric = dictionary
        .iter()
        .zip(&numbers)
        .all(|(v, x)| v.trim().is_empty() || x.is_some());
    let mut order: Vec<usize> = (0..n)
        .filter(|&r| !column.value(r).trim().is_empty())
        .collect();
    order.sort_by(|&a, &b| {
        if numeric {
            let x = |r: usize| {
                column
                    .code(r)
                    .and_then(|c| numbers.get(c as usize).copied().flatten())
                    .unwrap_or(f64::NEG_INFINITY)
            };
            x(a).total_cmp(&x(b))
        } else {
            column.value(a).trim().cmp(column.value(b).trim())
        }
    });
    let tests = ((order.len() as f64) * test_share.clamp(0.0, 1.0)).round() as usize;
    let first_test = order.len().saturating_sub(tests);
    let mut parts = vec![None; n];
    for (k, &r) in order.iter().enumerate() {
        if let Some(p) = parts.get_mut(r) {
            *p = Some(if k >= first_test {
                Part::Test
            } else {
                Part::Train
            });
        }
    }
    parts
}

/// Reads a split file: a header line `ID_COLUMN,split`, then one `id,train|test` per row.
pub fn read_split<R: Read>(reader: R) -> Result<Split, DataError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let header = csv.headers().map_err(|e| csv_error(&e))?.clone();
    if header.len() < 2 {
        return Err(DataError::Split {
            line: 1,
            message: "expected a header with two columns: the row id column and `split`".into(),
        });
    }
    let id_column = header
        .get(0)
        .unwrap_or("")
        .trim_start_matches('\u{feff}')
        .trim()
        .to_string();
    let mut parts = HashMap::new();
    for record in csv.records() {
        let record = record.map_err(|e| csv_error(&e))?;
        let line = record.position().map_or(0, csv::Position::line);
        let id = record.get(0).unwrap_or("").to_string();
        let part = match record
            .get(1)
            .map(|s| s.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("train") => Part::Train,
            Some("test") => Part::Test,
            other => {
                return Err(DataError::Split {
                    line,
                    message: format!(
                        "split must be `train` or `test`, got {:?}",
                        other.unwrap_or("")
                    ),
                })
            }
        };
        if parts.insert(id.clone(), part).is_some() {
            return Err(DataError::Split {
                line,
                message: format!("row id {id:?} appears twice"),
            });
        }
    }
    Ok(Split { id_column, parts })
}

/// Parses a label value: `1`/`0`, `yes`/`no`, `true`/`false`, `y`/`n` (any case).
pub fn parse_label(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "1.0" | "yes" | "y" | "true" | "t" | "converted" | "won" => Some(true),
        "0" | "0.0" | "no" | "n" | "false" | "f" | "lost" => Some(false),
        _ => None,
    }
}

/// Parses a numeric cell; missing-value markers and non-numbers give `None`.
pub fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Table, DataError> {
        read_csv(text.as_bytes(), &|_| true, &mut |_, _| {})
    }

    #[test]
    fn reads_columns_with_dictionary_codes() {
        let t = read("a,b\nx,1\ny,2\nx,3\n").unwrap();
        assert_eq!(t.rows, 3);
        let a = t.column("a").unwrap();
        assert_eq!(a.dictionary(), ["x", "y"]);
        assert_eq!(a.codes(), [0, 1, 0]);
        assert_eq!(t.column("b").unwrap().value(2), "3");
    }

    #[test]
    fn keeps_only_selected_columns_but_the_whole_header() {
        let t = read_csv("id,a,b\n1,x,y\n".as_bytes(), &|h| h != "id", &mut |_, _| {}).unwrap();
        assert_eq!(t.header, ["id", "a", "b"]);
        assert_eq!(t.columns.len(), 2);
        assert!(t.column("id").is_none());
    }

    #[test]
    fn ragged_rows_name_the_line() {
        let e = read("a,b\n1,2\n3\n").unwrap_err();
        assert_eq!(
            e,
            DataError::Ragged {
                line: 3,
                fields: 1,
                expected: 2
            }
        );
        assert!(e
            .to_string()
            .contains("line 3 has 1 fields but the header has 2"));
    }

    #[test]
    fn empty_and_duplicate_headers() {
        assert_eq!(read("").unwrap_err(), DataError::NoHeader);
        assert_eq!(
            read("a,a\n1,2\n").unwrap_err(),
            DataError::DuplicateColumn("a".into())
        );
    }

    #[test]
    fn quoted_fields_and_bom() {
        let t = read("\u{feff}name,v\n\"Smith, J\",1\n").unwrap();
        assert_eq!(t.header, ["name", "v"]);
        assert_eq!(t.column("name").unwrap().value(0), "Smith, J");
    }

    #[test]
    fn split_files() {
        let s = read_split("Prospect ID,split\na,train\nb,TEST\n".as_bytes()).unwrap();
        assert_eq!(s.id_column, "Prospect ID");
        assert_eq!(s.parts.get("a"), Some(&Part::Train));
        assert_eq!(s.parts.get("b"), Some(&Part::Test));
        let e = read_split("id,split\na,validate\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = read_split("id,split\na,train\na,test\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
    }

    #[test]
    fn labels_and_numbers() {
        assert_eq!(parse_label(" Yes "), Some(true));
        assert_eq!(parse_label("0"), Some(false));
        assert_eq!(parse_label("maybe"), None);
        assert_eq!(parse_number(" 2.5 "), Some(2.5));
        assert_eq!(parse_number("Select"), None);
        assert_eq!(parse_number("inf"), None);
    }
}
