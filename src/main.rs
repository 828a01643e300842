//! `runner`: parses the command line and dispatches; the work lives in the
//! library (`vaerun::cli`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use vaerun::cli::{self, exit, ExperimentArgs, Failure};

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
        #[arg(long)]
        cell: Option<String>,
        /// No progress bars or summary (errors are still printed).
        #[arg(long, short)]
        quiet: bool,
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
    /// (default: HEAD against the working tree), cell by cell.
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
    },
    /// List the expanded cells and which of their stages are cached.
    Plan {
        #[command(flatten)]
        exp: ExperimentArgs,
        /// Say why each stage of this cell is or is not cached (which
        /// parameter or input changed since the last run).
        #[arg(long, value_name = "CELL")]
        explain: Option<String>,
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

fn main() {
    let cli = Cli::parse();
    let result: Result<i32, Failure> = match cli.command {
        Command::Run { exp, cell, quiet } => cli::run(&exp, cell, quiet),
        Command::Report { target, set } => cli::report(&target, &set),
        Command::Diff {
            rev_a,
            rev_b,
            experiment,
            format,
        } => cli::diff(
            rev_a.as_deref(),
            rev_b.as_deref(),
            experiment.as_deref(),
            &format,
        ),
        Command::Plan { exp, explain } => cli::plan(&exp, explain.as_deref()),
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
