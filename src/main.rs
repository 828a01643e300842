//! `runner`: parses the command line and dispatches; the work lives in the
//! library (`vaerun::cli`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use vaerun::cli::{self, exit, ExperimentArgs, Failure};
use vaerun::pipeline::Selection;

#[derive(Parser)]
#[command(
    name = "runner",
    version,
    about = "Reproducible studies of unsupervised music clustering with VAEs, from one TOML file",
    after_help = "Exit codes: 0 every cell succeeded · 1 some cells failed · 2 invalid experiment or arguments · 3 the run could not proceed\n\
                  Configuration: the file, then RUNNER_SECTION__KEY=value environment variables \
                  (e.g. RUNNER_MODELS__VAE__EPOCHS=10), then --set section.key=value."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment: compute what is not cached, write reports/<name>/.
    Run {
        #[command(flatten)]
        exp: ExperimentArgs,
        /// Compute only this cell (as listed by `runner plan`) and print its result.
        #[arg(long, conflicts_with = "unit")]
        cell: Option<String>,
        /// Compute only this unit: one representation and every clusterer on
        /// it (as listed by `runner plan --units`); what a cluster task runs.
        #[arg(long)]
        unit: Option<String>,
        /// Only extract the per-track features (`features`), for the tracks
        /// of `--shard I/N`.
        #[arg(long, value_parser = ["features"], conflicts_with_all = ["cell", "unit"])]
        stage: Option<String>,
        /// With --stage features: this task's share of the tracks, I of N
        /// (tracks whose index modulo N is I).
        #[arg(long, value_name = "I/N", requires = "stage", value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// Compute nothing expensive: features and representations must come
        /// from the cache; what is missing is reported as failed cells (a
        /// cluster submission's report job).
        #[arg(long)]
        from_cache: bool,
        /// With --from-cache: a submission folder whose task records say why
        /// units are missing.
        #[arg(long, value_name = "DIR", requires = "from_cache")]
        task_records: Option<PathBuf>,
        /// Also write this run's results record (JSON) to FILE.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// No progress bars or summary (errors are still printed).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run the study on a SLURM cluster: job arrays over the shared cache,
    /// submitting only what is not cached ([executor.slurm] configures it).
    Submit {
        #[command(flatten)]
        exp: ExperimentArgs,
        /// Wait for the report job and exit with `run`'s exit codes.
        #[arg(long)]
        wait: bool,
        /// Write and print the batch scripts without submitting them.
        #[arg(long)]
        dry_run: bool,
        /// Seconds between queue polls while waiting.
        #[arg(long, default_value_t = 5.0)]
        poll: f64,
    },
    /// Per stage, what is cached, queued, running or failed (the cache,
    /// plus squeue for the latest submission), and the logs of failed tasks.
    Status {
        experiment: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Re-render results.csv/.parquet and report.md/.html from a finished
    /// run's results.json, without recomputing anything.
    Report {
        /// An experiment file, or a report folder such as reports/quickstart.
        target: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Compare the committed reports/*/results.json of two git revisions
    /// (default: HEAD against the working tree): per configuration (mean ±
    /// std over seeds), then cell by cell.
    Diff {
        /// The older revision (default HEAD).
        rev_a: Option<String>,
        /// The newer revision (default: the working tree).
        rev_b: Option<String>,
        /// Only this experiment (its report folder name).
        #[arg(long)]
        experiment: Option<String>,
        #[arg(long, default_value = "table", value_parser = ["table", "md", "json"])]
        format: String,
        /// Exit 1 when anything differs: a metric (beyond --tolerance), a
        /// parameter, a cell added or removed (for CI).
        #[arg(long)]
        check: bool,
        /// Metric differences up to this absolute amount count as equal.
        #[arg(long, default_value_t = 0.0, requires = "check")]
        tolerance: f64,
    },
    /// List the expanded cells and which of their stages are cached.
    Plan {
        #[command(flatten)]
        exp: ExperimentArgs,
        /// Say why each stage of this cell is or is not cached (which
        /// parameter or input changed since the last run).
        #[arg(long, value_name = "CELL")]
        explain: Option<String>,
        /// List the units of work (one representation each, with its cells)
        /// instead of the cells.
        #[arg(long, conflicts_with = "explain")]
        units: bool,
    },
    /// Check an experiment file without running anything.
    Validate {
        #[command(flatten)]
        exp: ExperimentArgs,
    },
    /// Print the JSON Schema of experiment files, for editors (Taplo, Even
    /// Better TOML): see experiments/README.md.
    Schema,
    /// Compute one feature of one audio file (librosa's definitions), as JSON
    /// (`shape`, `data`, `mean`, `std`) or .npy, to compare with librosa.
    Features {
        /// The audio file (WAV, FLAC, MP3, OGG, M4A, AU).
        audio: PathBuf,
        /// mfcc, melspectrogram, chroma_stft, spectral_centroid, spectral_bandwidth,
        /// spectral_rolloff, spectral_contrast, spectral_flatness, zero_crossing_rate, rms.
        #[arg(long)]
        feature: String,
        /// Feature parameters, e.g. --set n_mfcc=40 --set tuning=0.0 (see experiments/README.md).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Resample to this rate first (librosa's default is 22050).
        #[arg(long, default_value_t = 22050)]
        sr: u32,
        /// Output file: .json or .npy.
        #[arg(long)]
        out: PathBuf,
    },
    /// Score any embedding and labelling (e.g. made by another tool) with
    /// scikit-learn-identical metrics; JSON keys as the golden metrics.json.
    Score {
        /// The embedding: CSV (optional header) or .npy, one row per item.
        #[arg(long)]
        features: PathBuf,
        /// Predicted cluster ids, one per line (or .npy); -1 = noise.
        #[arg(long)]
        pred: PathBuf,
        /// True labels, one per line (any strings) or .npy.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Write the JSON here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed of the shuffled-label control.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Decode samples from the prior N(0, I) of a trained VAE-family model
    /// (a CVAE given --condition) into feature matrices (.npy), images and,
    /// for mel-spectrogram models, audio (Griffin-Lim). Train it first with
    /// `runner run EXP --cell ID`.
    Sample {
        experiment: PathBuf,
        /// The cell whose model to sample (as listed by `runner plan`).
        #[arg(long)]
        cell: String,
        /// Number of samples.
        #[arg(long, default_value_t = 8)]
        n: usize,
        /// The condition value for a conditional model (cvae), e.g. --condition en.
        #[arg(long)]
        condition: Option<String>,
        /// Seed of the draws from the prior.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Write the built-in synthetic corpus as WAV files in the GTZAN layout
    /// (DIR/<class>/<class>.000NN.wav, lyrics in .txt beside them).
    Synth {
        /// Where to write the corpus.
        #[arg(long)]
        out: PathBuf,
        /// Take the corpus settings from this experiment's [dataset] (default: built-in defaults).
        #[arg(long)]
        experiment: Option<PathBuf>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

/// `I/N` with I < N.
fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let (i, n): (usize, usize) = (
        i.trim()
            .parse()
            .map_err(|_| format!("`{i}` is not a shard index"))?,
        n.trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a shard count"))?,
    );
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N"));
    }
    Ok((i, n))
}

fn main() {
    // Before any thread exists (it sets an environment variable).
    vaerun::models::candle_elementwise_on_caller();
    let cli = Cli::parse();
    let result: Result<i32, Failure> = match cli.command {
        Command::Run {
            exp,
            cell,
            unit,
            stage,
            shard,
            from_cache,
            task_records,
            record,
            quiet,
        } => cli::run(
            &exp,
            cli::RunArgs {
                quiet,
                select: match (cell, unit) {
                    (Some(c), _) => Selection::Cell(c),
                    (_, Some(u)) => Selection::Unit(u),
                    _ => Selection::All,
                },
                features_only: stage.map(|_| shard.unwrap_or((0, 1))),
                from_cache,
                record,
                unit_errors: task_records
                    .map(|d| vaerun::slurm::unit_errors(&d))
                    .unwrap_or_default(),
            },
        ),
        Command::Submit {
            exp,
            wait,
            dry_run,
            poll,
        } => cli::submit(
            &exp,
            &vaerun::slurm::SubmitOptions {
                wait,
                dry_run,
                poll,
            },
        ),
        Command::Status { experiment, set } => cli::status(&experiment, &set),
        Command::Report { target, set } => cli::report(&target, &set),
        Command::Diff {
            rev_a,
            rev_b,
            experiment,
            format,
            check,
            tolerance,
        } => cli::diff(&cli::DiffArgs {
            rev_a: rev_a.as_deref(),
            rev_b: rev_b.as_deref(),
            experiment: experiment.as_deref(),
            format: &format,
            check,
            tolerance,
        }),
        Command::Plan {
            exp,
            explain,
            units,
        } => cli::plan(&exp, explain.as_deref(), units),
        Command::Validate { exp } => cli::validate(&exp),
        Command::Schema => cli::schema(),
        Command::Features {
            audio,
            feature,
            set,
            sr,
            out,
        } => cli::features(&audio, &feature, &set, sr, &out),
        Command::Score {
            features,
            pred,
            truth,
            out,
            seed,
        } => cli::score(&features, &pred, truth.as_deref(), out.as_deref(), seed),
        Command::Synth {
            out,
            experiment,
            set,
        } => cli::synth(experiment.as_deref(), &set, &out),
        Command::Sample {
            experiment,
            cell,
            n,
            condition,
            seed,
            out,
            set,
        } => cli::sample(
            &experiment,
            &set,
            &cell,
            n,
            condition.as_deref(),
            seed,
            &out,
        ),
    };
    let code = match result {
        Ok(code) => code,
        Err(Failure { code, error }) => {
            eprintln!("error: {error:#}");
            code
        }
    };
    std::process::exit(if code == exit::OK { 0 } else { code });
}
