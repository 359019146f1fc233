//! `retrain prepare` and `retrain split`: turn raw data into the training
//! and validation CSVs the later steps read.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use retrain_ml::{atomic, data, split};

use super::load_labelled;

#[derive(Args)]
pub(crate) struct PrepareArgs {
    /// A dataset directory (data.csv + target.csv), a CSV, or a built-in name.
    #[arg(long)]
    input: String,
    /// Label column of a single CSV input (default: the last column).
    #[arg(long)]
    target: Option<String>,
    /// The CSV to write: features, then the label column.
    #[arg(long)]
    output: PathBuf,
}

#[derive(Args)]
pub(crate) struct SplitArgs {
    /// A labelled dataset: a CSV, a directory with data.csv + target.csv, or a built-in name.
    #[arg(long)]
    input: String,
    /// Label column of a single CSV input (default: the last column).
    #[arg(long)]
    target: Option<String>,
    /// Directory for train.csv, val.csv (and test.csv).
    #[arg(long)]
    out_dir: PathBuf,
    /// Fraction of each class for validation.
    #[arg(long, default_value_t = 0.2)]
    validation: f64,
    /// Fraction of each class for a test set; 0 writes no test.csv.
    #[arg(long, default_value_t = 0.0)]
    test: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub(crate) fn prepare(args: PrepareArgs) -> Result<()> {
    let dataset = load_labelled(&args.input, args.target.as_deref())?;
    dataset.require_target()?;
    atomic::write_file(&args.output, &data::dataset_to_csv(&dataset))?;
    println!("wrote {} rows to {}", dataset.rows(), args.output.display());
    Ok(())
}

pub(crate) fn split(args: SplitArgs) -> Result<()> {
    let dataset = load_labelled(&args.input, args.target.as_deref())?;
    for (_, path, rows) in split::write_parts(&dataset, &args.out_dir, args.validation, args.test, args.seed)?
    {
        println!("wrote {rows} rows to {}", path.display());
    }
    Ok(())
}
