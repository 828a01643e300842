//! The side-by-side training benchmark shared by `benches/vae.rs` and
//! `benches/conv_vae.rs`: vaerun and PyTorch fit the same model to the same
//! rows, at each thread count, in the same command.
//!
//! - vaerun runs in a child process of the bench binary with
//!   `RAYON_NUM_THREADS` set, so that rayon's pool and candle's thread count
//!   agree and the figure is what `runner` gets with that many threads.
//! - PyTorch runs when `VAERUN_PYTHON` names an interpreter with torch
//!   (`benches/reference/setup.sh` builds one), with `torch.set_num_threads`
//!   and `OMP_NUM_THREADS`/`MKL_NUM_THREADS` set to the same count. Without
//!   it the ratio is reported as not measured: never compared with a stored
//!   number.
//! - Both sides read the rows from one `.npy` file and time one whole fit
//!   per repeat: model construction, training, the latent means of every
//!   row and the reconstruction of every row from its mean. The figure is
//!   the median over repeats, with the minimum beside it. The process CPU
//!   time of each fit is measured too: on a machine that others are using,
//!   wall time at 2 threads says more about the neighbours than about the
//!   code (the load average is printed), while CPU time at 1 thread stays
//!   close to the work done.
//!
//! Settings: `VAERUN_BENCH_THREADS` (default `1,2`), `VAERUN_BENCH_REPS`
//! (each bench has its default).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One case: a model table for vaerun, the PyTorch script and its
/// arguments, and how the time is reported.
pub struct Case {
    pub name: &'static str,
    pub title: String,
    /// The model's TOML table (vaerun).
    pub model: String,
    /// The layout of a row: `None` = summary, `Some((rows, frames))` = sequence.
    pub sequence: Option<(usize, usize)>,
    /// `benches/reference/<script>` and its model arguments.
    pub script: &'static str,
    pub script_args: Vec<String>,
    pub epochs: usize,
    pub rows: usize,
    pub batch: usize,
    /// Report milliseconds per step (true) or seconds per epoch (false).
    pub per_step: bool,
    pub reps: usize,
}

impl Case {
    fn steps(&self) -> usize {
        self.epochs * self.rows.div_ceil(self.batch)
    }

    /// The figure reported for one fit of `secs` seconds, and its unit.
    fn figure(&self, secs: f64) -> f64 {
        if self.per_step {
            secs * 1e3 / self.steps() as f64
        } else {
            secs / self.epochs as f64
        }
    }

    fn unit(&self) -> &'static str {
        if self.per_step {
            "ms/step"
        } else {
            "s/epoch"
        }
    }
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn threads() -> Vec<usize> {
    std::env::var("VAERUN_BENCH_THREADS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .map(|t| {
            t.trim()
                .parse()
                .expect("VAERUN_BENCH_THREADS: comma-separated counts")
        })
        .collect()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The child's side: fit the case's model `reps` times and print one JSON
/// line. Returns false when this process is not a child.
pub fn child(cases: &[Case]) -> bool {
    let Ok(name) = std::env::var("VAERUN_BENCH_CHILD") else {
        return false;
    };
    // As `runner` does at start-up.
    vaerun::models::candle_elementwise_on_caller();
    let case = cases.iter().find(|c| c.name == name).expect("known case");
    let data = PathBuf::from(std::env::var("VAERUN_BENCH_DATA").expect("data path"));
    let x: ndarray::Array2<f32> = ndarray_npy::read_npy(&data).expect("read rows");
    let t: toml::Table = case.model.parse().expect("model table");
    let model = vaerun::models::parse(vaerun::spec::Group::Model, &t, &[]).expect("model");
    let layout = match case.sequence {
        None => vaerun::models::Layout::summary(x.ncols()),
        Some((rows, frames)) => {
            vaerun::models::Layout::audio(vaerun::dsp::FeatureShape::Sequence { rows, frames })
        }
    };
    let device = candle_core::Device::Cpu;
    // Fits run on a worker of a pool of RAYON_NUM_THREADS threads, as in
    // `runner run`, where each training runs inside the represent stage's
    // parallel loop: the ops' own parallel loops then start on a worker,
    // not on an outside thread that must wake the pool for each of them.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .build()
        .expect("thread pool");
    let mut seconds = Vec::new();
    let mut cpu_seconds = Vec::new();
    let mut history = Vec::new();
    for r in 0..case.reps {
        let dir = tempfile::tempdir().unwrap();
        let c0 = cpu_time();
        let t0 = std::time::Instant::now();
        let fitted = pool
            .install(|| {
                model.fit(
                    &vaerun::models::FitInput {
                        x: &x,
                        layout: &layout,
                        condition: None,
                        seed: r as u64,
                        device: &device,
                        observer: None,
                    },
                    dir.path(),
                )
            })
            .expect("fit");
        seconds.push(t0.elapsed().as_secs_f64());
        cpu_seconds.push(cpu_time() - c0);
        history = fitted.history;
    }
    println!(
        "{}",
        serde_json::json!({
            "threads": rayon::current_num_threads(),
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "first_loss": history.first().map(|h| h.total),
            "final_loss": history.last().map(|h| h.total),
        })
    );
    true
}

/// CPU time of this process so far (all threads), in seconds.
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the given pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// The 1-minute load average (how busy the machine was).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn last_json_line(out: &std::process::Output, what: &str) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "{what} printed no result (status {}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn vaerun_fit(case: &Case, data: &Path, threads: usize) -> Value {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("VAERUN_BENCH_CHILD", case.name)
        .env("VAERUN_BENCH_DATA", data)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .expect("run the bench's child");
    last_json_line(&out, "the vaerun child")
}

fn torch_fit(python: &str, case: &Case, data: &Path, threads: usize) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/reference")
        .join(case.script);
    let t = threads.to_string();
    let out = Command::new(python)
        .arg(script)
        .args(["--data", data.to_str().unwrap(), "--threads", &t])
        .args(["--epochs", &case.epochs.to_string()])
        .args(["--batch", &case.batch.to_string()])
        .args(["--reps", &case.reps.to_string()])
        .args(&case.script_args)
        .env("OMP_NUM_THREADS", &t)
        .env("MKL_NUM_THREADS", &t)
        .output()
        .expect("run VAERUN_PYTHON");
    last_json_line(&out, "the PyTorch script")
}

fn seconds(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .expect("seconds")
        .iter()
        .map(|s| s.as_f64().unwrap())
        .collect()
}

/// Runs every case at every thread count and prints the table.
pub fn compare(cases: &[Case], rows_of: impl Fn(&Case) -> ndarray::Array2<f32>) {
    let python = std::env::var("VAERUN_PYTHON").ok();
    let dir = tempfile::tempdir().unwrap();
    for case in cases {
        let data = dir.path().join(format!("{}.npy", case.name));
        ndarray_npy::write_npy(&data, &rows_of(case)).unwrap();
        println!(
            "{}\n  {} epochs of {} rows, batch {}, AdamW (lr 1e-3, no weight decay); one fit = \
             build + train + every row's latent mean and reconstruction; {} repeat(s), median (min) in {}",
            case.title,
            case.epochs,
            case.rows,
            case.batch,
            case.reps,
            case.unit()
        );
        for &t in &threads() {
            let before = load();
            let ours = vaerun_fit(case, &data, t);
            let figures = |v: &Value| {
                let (wall, cpu) = (seconds(v, "seconds"), seconds(v, "cpu_seconds"));
                (
                    case.figure(median(&wall)),
                    case.figure(min(&wall)),
                    case.figure(median(&cpu)),
                )
            };
            let loss = |v: &Value| {
                format!(
                    "loss {:.2} -> {:.2}",
                    v["first_loss"].as_f64().unwrap_or(f64::NAN),
                    v["final_loss"].as_f64().unwrap_or(f64::NAN)
                )
            };
            let (ours_med, ours_min, ours_cpu) = figures(&ours);
            let unit = case.unit();
            println!(
                "  {t} thread(s), load average {before}:\n    vaerun        {ours_med:8.2} ({ours_min:.2}) {unit}, CPU {ours_cpu:.2} {unit}, {}",
                loss(&ours)
            );
            match &python {
                Some(py) => {
                    let theirs = torch_fit(py, case, &data, t);
                    let (th_med, th_min, th_cpu) = figures(&theirs);
                    println!(
                        "    PyTorch {:<6}{th_med:8.2} ({th_min:.2}) {unit}, CPU {th_cpu:.2} {unit}, {} ({} threads; load average after {})",
                        theirs["torch"].as_str().unwrap_or("?").split('+').next().unwrap_or("?"),
                        loss(&theirs),
                        theirs["threads"],
                        load()
                    );
                    println!(
                        "    ratio vaerun/PyTorch: {:.2} wall, {:.2} CPU",
                        ours_med / th_med,
                        ours_cpu / th_cpu
                    );
                }
                None => println!(
                    "    PyTorch: not measured, ratio not measured (set VAERUN_PYTHON to an interpreter with torch)"
                ),
            }
        }
    }
}
