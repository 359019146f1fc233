//! `retrain runs …` and `retrain models …`: tracking and registry from the
//! command line, over the MLflow REST API of a tracking server (retrain's
//! or MLflow's), named by `--tracking-uri` or `MLFLOW_TRACKING_URI`.

use super::timestamp;
use anyhow::Result;
use clap::{Args, Subcommand};
use retrain_registry::MlflowClient;
use retrain_registry::entities::{ModelVersion, Run};

#[derive(Args)]
pub(crate) struct Server {
    /// The tracking server's URL.
    #[arg(long, env = "MLFLOW_TRACKING_URI", default_value = "http://127.0.0.1:5000", global = true)]
    tracking_uri: String,
}

#[derive(Subcommand)]
pub(crate) enum RunsCommand {
    /// Runs of an experiment, newest first (or by --order-by).
    List {
        /// Experiment name.
        #[arg(long, default_value = "Default")]
        experiment: String,
        /// MLflow search filter, e.g. "metrics.accuracy > 0.9 and params.model = 'rf'".
        #[arg(long, default_value = "")]
        filter: String,
        /// e.g. "metrics.accuracy DESC"; repeatable.
        #[arg(long)]
        order_by: Vec<String>,
        #[arg(long, default_value_t = 20)]
        max_results: i64,
    },
    /// One run with its params, latest metrics and tags, as JSON.
    Show { run_id: String },
}

#[derive(Subcommand)]
pub(crate) enum ModelsCommand {
    /// Registered models with their aliases and the latest version per stage.
    List {
        /// MLflow filter on registered models, e.g. "name LIKE 'iris%'".
        #[arg(long, default_value = "")]
        filter: String,
    },
    /// A registered model's versions with stages and aliases.
    Show { name: String },
    /// Move a version to a stage (archiving the stage's other versions) and
    /// point an alias at it.
    Promote {
        name: String,
        version: String,
        #[arg(long, default_value = "Production")]
        stage: String,
        /// Alias to point at the version.
        #[arg(long, default_value = "champion")]
        alias: String,
        /// Leave aliases alone.
        #[arg(long)]
        no_alias: bool,
        /// Keep other versions in the stage instead of archiving them.
        #[arg(long)]
        keep_existing: bool,
        /// Why, for the audit trail.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Point an alias at a version, or remove it with --delete.
    Alias {
        name: String,
        alias: String,
        version: Option<String>,
        #[arg(long)]
        delete: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Stage and alias changes over time, and who held what at a moment.
    History {
        name: String,
        /// A moment: YYYY-MM-DD (end of that day, UTC), RFC 3339, or epoch ms.
        #[arg(long)]
        at: Option<String>,
    },
}

pub(crate) fn runs(server: Server, command: RunsCommand) -> Result<()> {
    let store = MlflowClient::new(&server.tracking_uri)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match command {
            RunsCommand::List { experiment, filter, order_by, max_results } => {
                let id = store.get_experiment_by_name(&experiment).await?.experiment_id;
                let runs = store.search_runs(&[id], &filter, &order_by, max_results).await?;
                println!(
                    "{:<32}  {:<24}  {:<9}  {:<19}  metrics",
                    "run_id", "name", "status", "started (UTC)"
                );
                for run in &runs {
                    println!(
                        "{:<32}  {:<24}  {:<9}  {:<19}  {}",
                        run.info.run_id,
                        run.info.run_name,
                        run.info.status,
                        timestamp(run.info.start_time),
                        metrics_summary(run)
                    );
                }
                Ok(())
            }
            RunsCommand::Show { run_id } => {
                let run = store.get_run(&run_id).await?;
                println!("{}", serde_json::to_string_pretty(&run)?);
                Ok(())
            }
        }
    })
}

fn metrics_summary(run: &Run) -> String {
    run.data.metrics.iter().map(|m| format!("{}={:.4}", m.key, m.value)).collect::<Vec<_>>().join(" ")
}

fn print_versions(versions: &[ModelVersion]) {
    println!("{:<8}  {:<10}  {:<20}  {:<32}  created (UTC)", "version", "stage", "aliases", "run_id");
    for v in versions {
        println!(
            "{:<8}  {:<10}  {:<20}  {:<32}  {}",
            v.version,
            v.current_stage,
            v.aliases.join(","),
            v.run_id.as_deref().unwrap_or("-"),
            timestamp(v.creation_timestamp)
        );
    }
}

pub(crate) fn models(server: Server, command: ModelsCommand) -> Result<()> {
    let store = MlflowClient::new(&server.tracking_uri)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match command {
            ModelsCommand::List { filter } => {
                println!("{:<28}  {:<30}  latest versions", "name", "aliases");
                for model in store.search_registered_models(&filter).await? {
                    let aliases: Vec<String> =
                        model.aliases.iter().map(|a| format!("{}→v{}", a.alias, a.version)).collect();
                    let latest: Vec<String> = model
                        .latest_versions
                        .iter()
                        .map(|v| format!("{}:v{}", v.current_stage, v.version))
                        .collect();
                    println!("{:<28}  {:<30}  {}", model.name, aliases.join(" "), latest.join(" "));
                }
            }
            ModelsCommand::Show { name } => {
                let model = store.get_registered_model(&name).await?;
                let mut versions =
                    store.search_model_versions(&format!("name = '{}'", name.replace('\'', "''"))).await?;
                versions.sort_by_key(|v| v.version.parse::<u64>().unwrap_or(0));
                println!(
                    "{}{}",
                    model.name,
                    if model.description.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", model.description)
                    }
                );
                print_versions(&versions);
            }
            ModelsCommand::Promote { name, version, stage, alias, no_alias, keep_existing, reason } => {
                let moved = store.transition_stage(&name, &version, &stage, !keep_existing, &reason).await?;
                if !no_alias {
                    store.set_alias(&name, &alias, &version, &reason).await?;
                    println!("{name} v{version} is now in {} and @{alias}", moved.current_stage);
                } else {
                    println!("{name} v{version} is now in {}", moved.current_stage);
                }
            }
            ModelsCommand::Alias { name, alias, version, delete, reason } => match (delete, version) {
                (true, _) => {
                    store.delete_alias(&name, &alias, &reason).await?;
                    println!("removed alias {alias} of {name}");
                }
                (false, Some(version)) => {
                    store.set_alias(&name, &alias, &version, &reason).await?;
                    println!("{name}@{alias} → v{version}");
                }
                (false, None) => {
                    return Err(super::UsageError(
                        "give a VERSION to point the alias at, or --delete".into(),
                    )
                    .into());
                }
            },
            ModelsCommand::History { name, at } => {
                let audit = store.registry_audit(&name, at.as_deref()).await?;
                for event in audit["events"].as_array().into_iter().flatten() {
                    let from =
                        event["from_version"].as_str().map(|v| format!("v{v}")).unwrap_or_else(|| "-".into());
                    let to =
                        event["to_version"].as_str().map(|v| format!("v{v}")).unwrap_or_else(|| "-".into());
                    println!(
                        "{}  {:<5} {:<12} {:>4} → {:<4}  by {}{}",
                        timestamp(event["at"].as_i64().unwrap_or(0)),
                        event["kind"].as_str().unwrap_or(""),
                        event["subject"].as_str().unwrap_or(""),
                        from,
                        to,
                        event["actor"].as_str().unwrap_or(""),
                        event["reason"]
                            .as_str()
                            .filter(|r| !r.is_empty())
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    );
                }
                println!("at {} (UTC):", timestamp(audit["at"].as_i64().unwrap_or(0)));
                println!("  stages:  {}", audit["stages"]);
                println!("  aliases: {}", audit["aliases"]);
            }
        }
        Ok(())
    })
}
