//! Tabular data in and out: CSV loading with validation, label encoding,
//! and aligning columns by name to what a model was trained on.
//!
//! A dataset is either a directory holding `data.csv` (features, header
//! row) and `target.csv` (one labelled column), or a single CSV whose
//! target column is named. Loading rejects what would silently corrupt a
//! model: ragged rows, cells that are not numbers, duplicate or empty
//! column names, an empty file. Missing cells (empty, `NA`, `NaN`, `null`)
//! are kept as NaN and reported by [`Dataset::require_complete`] unless the
//! config asks for imputation.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A dense row-major matrix of `f64`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// Builds a matrix from row-major values; `data.len()` must be `rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix shape does not match its data");
        Matrix { rows, cols, data }
    }

    /// A `rows` x `cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix::new(rows, cols, vec![0.0; rows * cols])
    }

    /// Number of rows (samples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features, or classes for a score matrix).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i`; panics when `i >= rows()`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, writable; panics when `i >= rows()`.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The value at row `i`, column `j`; panics outside the matrix.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Every value, row after row.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Every value, row after row, writable.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// A new matrix holding the given rows, in the given order.
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix::new(indices.len(), self.cols, data)
    }
}

/// The first missing cell found while loading, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingCell {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// Name of the cell's column.
    pub column: String,
}

/// Features (and labels, when known) loaded from CSV or a built-in set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Where the features came from, for messages.
    pub source: PathBuf,
    /// Feature column names, in the order of `x`'s columns.
    pub features: Vec<String>,
    /// One row per sample, one column per feature; missing cells are NaN.
    pub x: Matrix,
    /// The labels; `None` for features alone (data to predict on).
    pub target: Option<Target>,
    /// The first missing feature cell; `None` when every cell has a value.
    pub first_missing: Option<MissingCell>,
}

/// The labelled column of a dataset, one label per row, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The label column's name (the header of `target.csv`).
    pub name: String,
    /// One label per row of the dataset, as text.
    pub labels: Vec<String>,
    /// Line of each label in its file, for messages about a single label.
    pub lines: Vec<u64>,
    /// The file the labels came from, for messages.
    pub source: PathBuf,
}

impl Dataset {
    /// Number of samples.
    pub fn rows(&self) -> usize {
        self.x.rows()
    }

    /// The given rows, in the given order.
    pub fn select_rows(&self, rows: &[usize]) -> Dataset {
        let mut part = self.clone();
        part.x = self.x.select_rows(rows);
        if let Some(target) = &mut part.target {
            target.labels = rows.iter().map(|&i| target.labels[i].clone()).collect();
            target.lines = rows.iter().map(|&i| target.lines[i]).collect();
        }
        part
    }

    /// Fails with the location of the first missing cell, if any.
    pub fn require_complete(&self) -> Result<()> {
        match &self.first_missing {
            None => Ok(()),
            Some(cell) => Err(Error::csv(
                &self.source,
                format!(
                    "line {}, column '{}': missing value (set `impute: mean` or `impute: median` \
                     in the classifier config to fill missing values)",
                    cell.line, cell.column
                ),
            )),
        }
    }

    /// The target, or an error saying the data set has none.
    pub fn require_target(&self) -> Result<&Target> {
        self.target.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "{}: no target column; give one CSV with --target COLUMN or a directory \
                 with data.csv and target.csv",
                self.source.display()
            ))
        })
    }

    /// The feature matrix with its columns reordered to `expected` (matched
    /// by name). Columns named in `ignored` (e.g. the model's own target
    /// column) are dropped; any other extra or missing column is an error.
    pub fn aligned_to(&self, expected: &[String], ignored: &[&str]) -> Result<Matrix> {
        let position: HashMap<&str, usize> =
            self.features.iter().enumerate().map(|(i, name)| (name.as_str(), i)).collect();
        let missing: Vec<&str> =
            expected.iter().map(String::as_str).filter(|name| !position.contains_key(name)).collect();
        let expected_set: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        let extra: Vec<&str> = self
            .features
            .iter()
            .map(String::as_str)
            .filter(|name| !expected_set.contains(name) && !ignored.contains(name))
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            let mut problems = Vec::new();
            if !missing.is_empty() {
                problems.push(format!("missing column(s) {}", quoted(&missing)));
            }
            if !extra.is_empty() {
                problems.push(format!("unexpected column(s) {}", quoted(&extra)));
            }
            return Err(Error::csv(
                &self.source,
                format!(
                    "{}; the model expects {} columns: {}",
                    problems.join(" and "),
                    expected.len(),
                    quoted(&expected.iter().map(String::as_str).collect::<Vec<_>>())
                ),
            ));
        }
        if self.features == expected {
            return Ok(self.x.clone());
        }
        let order: Vec<usize> = expected.iter().map(|name| position[name.as_str()]).collect();
        let mut data = Vec::with_capacity(self.rows() * order.len());
        for i in 0..self.rows() {
            let row = self.x.row(i);
            data.extend(order.iter().map(|&j| row[j]));
        }
        Ok(Matrix::new(self.rows(), order.len(), data))
    }
}

/// The features file of a dataset directory.
pub(crate) const FEATURES_FILE: &str = "data.csv";
/// The labels file of a dataset directory, next to [`FEATURES_FILE`].
pub(crate) const LABELS_FILE: &str = "target.csv";

pub(crate) fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

/// Loads a labelled dataset: a directory with `data.csv` and `target.csv`,
/// or one CSV file whose label column is `target` (the last column when
/// `None`).
pub(crate) fn load_labelled(path: &Path, target: Option<&str>) -> Result<Dataset> {
    if path.is_dir() || target.is_some() {
        return load(path, target);
    }
    parse_csv(path, open_reader(path)?, Some(TargetColumn::Last))
}

/// Loads a dataset: a directory with `data.csv` and `target.csv`, or one
/// CSV file. For a single file, `target` names the label column; without
/// it the file is read as features only.
pub(crate) fn load(path: &Path, target: Option<&str>) -> Result<Dataset> {
    if path.is_dir() {
        let data_path = path.join(FEATURES_FILE);
        let target_path = path.join(LABELS_FILE);
        if !data_path.is_file() {
            return Err(Error::Invalid(format!(
                "{}: a dataset directory must contain data.csv (features) and target.csv (labels)",
                path.display()
            )));
        }
        let mut dataset = read_csv(&data_path, None)?;
        if !target_path.is_file() {
            return Err(Error::Invalid(format!(
                "{}: missing target.csv next to data.csv (one column of class labels with a header)",
                path.display()
            )));
        }
        let labels = read_target_file(&target_path)?;
        if labels.labels.len() != dataset.rows() {
            return Err(Error::csv(
                &target_path,
                format!(
                    "has {} labels but {} has {} rows",
                    labels.labels.len(),
                    data_path.display(),
                    dataset.rows()
                ),
            ));
        }
        dataset.target = Some(labels);
        Ok(dataset)
    } else {
        read_csv(path, target)
    }
}

/// Values that mean "missing" in a numeric cell.
fn is_missing(cell: &str) -> bool {
    matches!(cell, "" | "NA" | "N/A" | "NaN" | "nan" | "null" | "NULL" | "?")
}

fn open_reader(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    Ok(csv_reader(file))
}

fn csv_reader<R: std::io::Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(input)
}

fn csv_error(path: &Path, err: csv::Error) -> Error {
    match err.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => {
            let line = pos.as_ref().map(|p| p.line()).unwrap_or(0);
            Error::csv(
                path,
                format!("line {line}: expected {expected_len} fields as in the header, found {len}"),
            )
        }
        csv::ErrorKind::Utf8 { pos, .. } => {
            let line = pos.as_ref().map(|p| p.line()).unwrap_or(0);
            Error::csv(path, format!("line {line}: not valid UTF-8 text"))
        }
        csv::ErrorKind::Io(e) => Error::csv(path, format!("cannot read: {e}")),
        _ => Error::csv(path, err.to_string()),
    }
}

fn read_header<R: std::io::Read>(path: &Path, reader: &mut csv::Reader<R>) -> Result<Vec<String>> {
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(Error::csv(path, "file is empty; expected a header row of column names"));
    }
    let mut seen = BTreeSet::new();
    let mut names = Vec::with_capacity(header.len());
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(Error::csv(path, format!("line 1: column {} has an empty name", i + 1)));
        }
        if !seen.insert(name) {
            return Err(Error::csv(path, format!("line 1: duplicate column '{name}'")));
        }
        names.push(name.to_owned());
    }
    if names.iter().all(|n| n.parse::<f64>().is_ok()) {
        return Err(Error::csv(
            path,
            "line 1: the first row holds only numbers; expected a header row of column names",
        ));
    }
    Ok(names)
}

/// Reads one CSV. Columns are features except `target`, which must exist
/// when given and is kept as text labels.
pub fn read_csv(path: &Path, target: Option<&str>) -> Result<Dataset> {
    parse_csv(path, open_reader(path)?, target.map(TargetColumn::Required))
}

/// Reads features for prediction: a column named `target`, if present,
/// is kept as labels rather than parsed as a feature.
pub(crate) fn read_features(path: &Path, target: &str) -> Result<Dataset> {
    parse_csv(path, open_reader(path)?, Some(TargetColumn::IfPresent(target)))
}

#[derive(Clone, Copy)]
enum TargetColumn<'a> {
    Required(&'a str),
    IfPresent(&'a str),
    Last,
}

/// Parses features sent as CSV text (a prediction request); a column
/// named `target` is not taken for a feature.
pub(crate) fn parse_features_text(source: &Path, text: &str, target: &str) -> Result<Dataset> {
    parse_csv(source, csv_reader(text.as_bytes()), Some(TargetColumn::IfPresent(target)))
}

/// Parses CSV text already in memory; `source` names it in messages.
pub(crate) fn parse_csv_text(source: &Path, text: &str, target: Option<&str>) -> Result<Dataset> {
    parse_csv(source, csv_reader(text.as_bytes()), target.map(TargetColumn::Required))
}

fn parse_csv<R: std::io::Read>(
    path: &Path,
    mut reader: csv::Reader<R>,
    target: Option<TargetColumn<'_>>,
) -> Result<Dataset> {
    let columns = read_header(path, &mut reader)?;
    let target_index = match target {
        None => None,
        Some(TargetColumn::IfPresent(name)) => columns.iter().position(|c| c == name),
        Some(TargetColumn::Last) => Some(columns.len() - 1),
        Some(TargetColumn::Required(name)) => {
            Some(columns.iter().position(|c| c == name).ok_or_else(|| {
                let names: Vec<&str> = columns.iter().map(String::as_str).collect();
                Error::csv(path, format!("no target column '{name}'; columns are {}", quoted(&names)))
            })?)
        }
    };
    let features: Vec<String> = columns
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != target_index)
        .map(|(_, c)| c.clone())
        .collect();
    if features.is_empty() {
        return Err(Error::csv(path, "no feature columns besides the target"));
    }
    let mut values = Vec::new();
    let mut labels = Vec::new();
    let mut lines = Vec::new();
    let mut first_missing = None;
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| csv_error(path, e))? {
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.len() == 1 && record[0].is_empty() && columns.len() > 1 {
            continue; // a blank line
        }
        for (i, cell) in record.iter().enumerate() {
            if Some(i) == target_index {
                if cell.is_empty() {
                    return Err(Error::csv(
                        path,
                        format!("line {line}, column '{}': missing label", columns[i]),
                    ));
                }
                labels.push(cell.to_owned());
                lines.push(line);
            } else if is_missing(cell) {
                first_missing.get_or_insert(MissingCell { line, column: columns[i].clone() });
                values.push(f64::NAN);
            } else {
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => values.push(v),
                    _ => {
                        return Err(Error::csv(
                            path,
                            format!("line {line}, column '{}': '{cell}' is not a number", columns[i]),
                        ));
                    }
                }
            }
        }
    }
    let rows = values.len() / features.len();
    if rows == 0 {
        return Err(Error::csv(path, "no data rows after the header"));
    }
    let target = target_index.map(|index| Target {
        name: columns[index].clone(),
        labels,
        lines,
        source: path.to_path_buf(),
    });
    Ok(Dataset {
        source: path.to_path_buf(),
        x: Matrix::new(rows, features.len(), values),
        features,
        target,
        first_missing,
    })
}

/// Reads a one-column file of labels with a header.
pub(crate) fn read_target_file(path: &Path) -> Result<Target> {
    let mut reader = open_reader(path)?;
    let columns = read_header(path, &mut reader)?;
    if columns.len() != 1 {
        return Err(Error::csv(path, format!("a target file has one column; found {}", columns.len())));
    }
    let mut labels = Vec::new();
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let label = &record[0];
        if label.is_empty() {
            return Err(Error::csv(path, format!("line {line}: missing label")));
        }
        labels.push(label.to_owned());
        lines.push(line);
    }
    if labels.is_empty() {
        return Err(Error::csv(path, "no labels after the header"));
    }
    Ok(Target { name: columns[0].clone(), labels, lines, source: path.to_path_buf() })
}

/// The sorted set of class labels: numerically when every label is an
/// integer, otherwise as text (the order scikit-learn's `np.unique` gives).
pub fn classes_of(labels: &[String]) -> Vec<String> {
    let unique: BTreeSet<&str> = labels.iter().map(String::as_str).collect();
    let mut classes: Vec<String> = unique.into_iter().map(str::to_owned).collect();
    if classes.iter().all(|c| c.parse::<i64>().is_ok()) {
        classes.sort_by_key(|c| c.parse::<i64>().unwrap_or_default());
    }
    classes
}

impl Target {
    /// Maps labels to class indices; a label outside `classes` is an error
    /// naming its line.
    pub fn encode(&self, classes: &[String]) -> Result<Vec<u32>> {
        let index: HashMap<&str, u32> =
            classes.iter().enumerate().map(|(i, c)| (c.as_str(), i as u32)).collect();
        self.labels
            .iter()
            .zip(&self.lines)
            .map(|(label, line)| {
                index.get(label.as_str()).copied().ok_or_else(|| {
                    let known: Vec<&str> = classes.iter().map(String::as_str).collect();
                    Error::csv(
                        &self.source,
                        format!(
                            "line {line}: label '{label}' was not seen in training (known: {})",
                            quoted(&known)
                        ),
                    )
                })
            })
            .collect()
    }
}

/// Renders a table as CSV text.
pub(crate) fn to_csv(header: &[String], rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = writer.write_record(header);
    for row in rows {
        let _ = writer.write_record(&row);
    }
    writer.into_inner().unwrap_or_default()
}

/// A dataset as one CSV: features then the target column.
pub fn dataset_to_csv(dataset: &Dataset) -> Vec<u8> {
    let mut header = dataset.features.clone();
    if let Some(t) = &dataset.target {
        header.push(t.name.clone());
    }
    let rows = (0..dataset.rows()).map(|i| {
        let mut row: Vec<String> = dataset.x.row(i).iter().map(format_value).collect();
        if let Some(t) = &dataset.target {
            row.push(t.labels[i].clone());
        }
        row
    });
    to_csv(&header, rows)
}

/// Formats a feature value: the shortest text that parses back to it, and
/// an empty cell for a missing one.
pub(crate) fn format_value(v: &f64) -> String {
    if v.is_nan() { String::new() } else { v.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        path
    }

    fn err(text: &str, target: Option<&str>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "d.csv", text);
        read_csv(&path, target).unwrap_err().to_string()
    }

    #[test]
    fn reads_features_and_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "d.csv", "\u{feff}a,b,y\n1,2,cat\n3, 4.5 ,dog\n");
        let d = read_csv(&path, Some("y")).unwrap();
        assert_eq!(d.features, ["a", "b"]);
        assert_eq!(d.x.as_slice(), &[1.0, 2.0, 3.0, 4.5]);
        assert_eq!(d.target.unwrap().labels, ["cat", "dog"]);
    }

    #[test]
    fn rejects_malformed_files_with_line_and_column() {
        assert!(err("a,b\n1,2\n3\n", None).contains("line 3: expected 2 fields as in the header, found 1"));
        assert!(err("a,b\n1,x\n", None).contains("line 2, column 'b': 'x' is not a number"));
        assert!(err("", None).contains("file is empty"));
        assert!(err("a,b\n", None).contains("no data rows"));
        assert!(err("a,a\n1,2\n", None).contains("duplicate column 'a'"));
        assert!(err("1,2\n3,4\n", None).contains("expected a header row"));
        assert!(err("a,b\n1,2\n", Some("y")).contains("no target column 'y'; columns are 'a', 'b'"));
        assert!(err("a,b\n1,inf\n", None).contains("'inf' is not a number"));
    }

    #[test]
    fn records_first_missing_cell() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "d.csv", "a,b\n1,2\n3,NA\n,1\n");
        let d = read_csv(&path, None).unwrap();
        assert!(d.x.get(1, 1).is_nan() && d.x.get(2, 0).is_nan());
        let e = d.require_complete().unwrap_err().to_string();
        assert!(e.contains("line 3, column 'b': missing value"), "{e}");
    }

    #[test]
    fn directory_dataset_checks_row_counts() {
        let dir = tempfile::tempdir().unwrap();
        file(dir.path(), "data.csv", "a\n1\n2\n");
        file(dir.path(), "target.csv", "y\n0\n");
        let e = load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("has 1 labels but"), "{e}");
        std::fs::remove_file(dir.path().join("target.csv")).unwrap();
        let e = load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("missing target.csv"), "{e}");
    }

    #[test]
    fn classes_sort_numerically_when_integers() {
        let labels: Vec<String> = ["10", "2", "1", "2"].iter().map(|s| s.to_string()).collect();
        assert_eq!(classes_of(&labels), ["1", "2", "10"]);
        let labels: Vec<String> = ["b", "a", "10"].iter().map(|s| s.to_string()).collect();
        assert_eq!(classes_of(&labels), ["10", "a", "b"]);
    }

    #[test]
    fn aligns_columns_by_name_and_names_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "d.csv", "b,a,y\n2,1,0\n");
        let d = read_csv(&path, None).unwrap();
        let expected = vec!["a".to_owned(), "b".to_owned()];
        let m = d.aligned_to(&expected, &["y"]).unwrap();
        assert_eq!(m.as_slice(), &[1.0, 2.0]);
        let e = d.aligned_to(&expected, &[]).unwrap_err().to_string();
        assert!(e.contains("unexpected column(s) 'y'"), "{e}");
        let expected = vec!["a".to_owned(), "c".to_owned()];
        let e = d.aligned_to(&expected, &["y"]).unwrap_err().to_string();
        assert!(e.contains("missing column(s) 'c'") && e.contains("unexpected column(s) 'b'"), "{e}");
    }
}
