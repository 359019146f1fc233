//! `retrain datasets`: list the built-in datasets, export one, or generate
//! a day of drifting synthetic data.

use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use retrain_ml::data;
use retrain_ml::datasets::{self, SyntheticSpec};

use super::UsageError;

#[derive(Subcommand)]
pub(crate) enum DatasetsCommand {
    /// List the built-in datasets.
    List,
    /// Write a built-in dataset as data.csv + target.csv.
    Export {
        /// iris, wine or breast_cancer.
        name: String,
        /// Directory to write into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate synthetic classification data (scikit-learn's
    /// make_classification) that drifts with the date.
    Generate(GenerateArgs),
}

#[derive(Args)]
pub(crate) struct GenerateArgs {
    /// Number of rows.
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Feature means move this many class separations per 30 days, and each
    /// class sways this far over a year; 0 for stationary data.
    #[arg(long, default_value_t = 0.0)]
    drift: f64,
    /// The day the data describes (YYYY-MM-DD). Defaults to the name of the
    /// output directory when it is a date, else today (UTC).
    #[arg(long)]
    date: Option<NaiveDate>,
    #[arg(long, default_value_t = 20)]
    features: usize,
    #[arg(long, default_value_t = 5)]
    informative: usize,
    #[arg(long, default_value_t = 2)]
    redundant: usize,
    #[arg(long, default_value_t = 3)]
    classes: usize,
    /// Class proportions, comma-separated (e.g. 0.7,0.2,0.1); balanced when absent.
    #[arg(long, value_delimiter = ',')]
    weights: Option<Vec<f64>>,
    /// Fraction of labels replaced at random (label noise).
    #[arg(long, default_value_t = 0.01)]
    noise: f64,
    #[arg(long, default_value_t = 1.0)]
    class_sep: f64,
    /// Directory to write data.csv and target.csv into.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(command: DatasetsCommand) -> Result<()> {
    match command {
        DatasetsCommand::List => {
            for name in datasets::BUILTIN {
                if let Some(d) = datasets::builtin(name) {
                    let classes = d.target.as_ref().map(|t| data::classes_of(&t.labels)).unwrap_or_default();
                    println!(
                        "{name:<14} {:>4} rows  {:>2} features  classes: {}",
                        d.rows(),
                        d.features.len(),
                        classes.join(", ")
                    );
                }
            }
            Ok(())
        }
        DatasetsCommand::Export { name, out } => {
            let dataset = datasets::builtin(&name).ok_or_else(|| {
                UsageError(format!("unknown dataset '{name}'; built-in: {}", datasets::BUILTIN.join(", ")))
            })?;
            write_dataset(&dataset, &out)
        }
        DatasetsCommand::Generate(args) => generate(args),
    }
}

fn generate(args: GenerateArgs) -> Result<()> {
    let date =
        args.date.or_else(|| date_from_dir(&args.out)).unwrap_or_else(|| chrono::Utc::now().date_naive());
    let spec = SyntheticSpec {
        rows: args.rows,
        n_features: args.features,
        n_informative: args.informative,
        n_redundant: args.redundant,
        n_classes: args.classes,
        n_clusters_per_class: 2,
        weights: args.weights,
        flip_y: args.noise,
        class_sep: args.class_sep,
        seed: args.seed,
        drift: args.drift,
        date,
    };
    let dataset = datasets::synthetic(&spec)?;
    write_dataset(&dataset, &args.out)?;
    tracing::info!(rows = args.rows, %date, drift = args.drift, "generated {}", args.out.display());
    Ok(())
}

fn date_from_dir(dir: &Path) -> Option<NaiveDate> {
    dir.file_name()?.to_str()?.parse().ok()
}

/// Writes data.csv and target.csv into `dir` and says so.
pub(crate) fn write_dataset(dataset: &data::Dataset, dir: &Path) -> Result<()> {
    datasets::write_dir(dataset, dir)?;
    println!("wrote {} rows to {}", dataset.rows(), dir.display());
    Ok(())
}
