//! The `retrain` binary: parses arguments, sets up logging, runs one
//! command and turns its outcome into an exit code (0 success, 2 bad
//! input, 1 failure of the system). The work itself lives in the library
//! crates; commands only wire them together.

mod commands;
mod exit;
mod progress;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "retrain", version, about = "Automated model retraining in one binary")]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Built-in datasets and the synthetic data generator.
    #[command(subcommand)]
    Datasets(commands::datasets::DatasetsCommand),
    /// Join data.csv and target.csv into one training CSV (labels last).
    Prepare(commands::data::PrepareArgs),
    /// Stratified train/validation(/test) split of a labelled CSV.
    Split(commands::data::SplitArgs),
    /// Train a classifier from a config file and write a model directory.
    Train(commands::model::TrainArgs),
    /// Measure a model on labelled data.
    Evaluate(commands::model::EvaluateArgs),
    /// Predict labels (and probabilities) for a CSV of features.
    Predict(commands::model::PredictArgs),
    /// Run the tracking server (MLflow's REST API and artifact proxy).
    Server(commands::server::ServerArgs),
    /// Serve a model over HTTP with MLflow's scoring protocol (hot-swapped when its alias moves).
    Serve(commands::server::ServeArgs),
    /// Scaffold a project: pipelines/, configs/, retrain.yaml (never overwrites).
    Init(commands::flow::InitArgs),
    /// The whole system: scheduler, executor and tracking server on one port.
    Up(commands::flow::UpArgs),
    /// Pipelines: list, check, run, trigger, backfill, pause, unpause, runs.
    #[command(subcommand)]
    Pipelines(commands::flow::PipelinesCommand),
    /// Variables templates read as `var.NAME`; secret ones encrypted: set, get, list, delete.
    #[command(subcommand)]
    Variables(commands::flow::VariablesCommand),
    /// The key secret variables are encrypted with: rotate-key.
    #[command(subcommand)]
    Secrets(commands::flow::SecretsCommand),
    /// One task instance.
    #[command(subcommand)]
    Task(commands::flow::TaskCommand),
    /// Users, their roles and API tokens: add, list, passwd, delete, token.
    #[command(subcommand)]
    Users(commands::users::UsersCommand),
    /// Tracked runs on a tracking server.
    Runs {
        #[command(flatten)]
        server: commands::registry::Server,
        #[command(subcommand)]
        command: commands::registry::RunsCommand,
    },
    /// Registered models: list, show, promote, alias, history.
    Models {
        #[command(flatten)]
        server: commands::registry::Server,
        #[command(subcommand)]
        command: commands::registry::ModelsCommand,
    },
}

/// A page of runs read through sqlx is thousands of small allocations
/// made on one thread and freed on another; mimalloc serves them in about
/// a sixth fewer instructions per search than the system allocator. It
/// also replaces `malloc` itself (the `override` feature), so SQLite's
/// allocations, a copy of every value sqlx reads, go to it too: another
/// 9% fewer instructions per search.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    // Commands that print end quietly when their reader goes away
    // (`retrain pipelines runs train | head`), as Unix tools do; the
    // servers keep ignoring SIGPIPE so a closed pipe never stops them.
    if !matches!(cli.command, Command::Up(_) | Command::Server(_) | Command::Serve(_)) {
        restore_default_sigpipe();
    }
    let result = match cli.command {
        Command::Datasets(command) => commands::datasets::run(command),
        Command::Prepare(args) => commands::data::prepare(args),
        Command::Split(args) => commands::data::split(args),
        Command::Train(args) => commands::model::train(args),
        Command::Evaluate(args) => commands::model::evaluate(args),
        Command::Predict(args) => commands::model::predict(args),
        Command::Server(args) => commands::server::run(args),
        Command::Serve(args) => commands::server::serve_model(args),
        Command::Init(args) => commands::flow::init(args),
        Command::Up(args) => commands::flow::up(args),
        Command::Pipelines(command) => commands::flow::pipelines(command),
        Command::Variables(command) => commands::flow::variables(command),
        Command::Secrets(command) => commands::flow::secrets(command),
        Command::Task(command) => commands::flow::task(command),
        Command::Users(command) => commands::users::run(command),
        Command::Runs { server, command } => commands::registry::runs(server, command),
        Command::Models { server, command } => commands::registry::models(server, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::code(&err))
        }
    }
}

fn restore_default_sigpipe() {
    // SAFETY: called before any other thread exists; SIG_DFL is a valid
    // disposition. (The workspace denies unsafe code; libc has no safe form.)
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
