//! `[executor.slurm]`: how `runner submit` asks SLURM for resources. The
//! values end up in `#SBATCH` lines, so each is checked: a newline in a
//! partition name would otherwise inject shell lines into every task.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurmSpec {
    /// `--partition`.
    #[serde(default)]
    pub partition: Option<String>,
    /// `--account`.
    #[serde(default)]
    pub account: Option<String>,
    /// `--qos`.
    #[serde(default)]
    pub qos: Option<String>,
    /// Wall-clock limit of each task, in SLURM's syntax: "MM", "HH:MM:SS",
    /// "D-HH:MM:SS", ...
    #[serde(default)]
    pub time: Option<String>,
    /// `--cpus-per-task` (also the task's thread count).
    #[serde(default)]
    pub cpus_per_task: Option<u32>,
    /// `--mem`, e.g. "8G".
    #[serde(default)]
    pub mem: Option<String>,
    /// GPUs per task: `--gres=gpu:N`.
    #[serde(default)]
    pub gpus: Option<u32>,
    /// At most this many tasks of an array run at once: `--array=…%N`.
    #[serde(default)]
    pub max_parallel: Option<u32>,
    /// Shell lines run before each task, e.g. ["module load cuda"].
    #[serde(default)]
    pub setup: Vec<String>,
    /// Arguments passed to sbatch verbatim, e.g. ["--constraint=a100"].
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// Tracks per features task: larger datasets get an array of feature
    /// tasks over track shards.
    #[serde(default = "d_tracks_per_task")]
    pub tracks_per_task: usize,
    /// Units per array task, run one after the other. SLURM spends a few
    /// seconds launching each task, so grids of many short units (seconds
    /// of training each) finish sooner with several per task; a failed or
    /// stopped task then holds up to this many units.
    #[serde(default = "d_units_per_task")]
    pub units_per_task: usize,
    /// Seconds before the time limit at which a task is told (SIGUSR1) to
    /// stop, so it ends cleanly and is requeued.
    #[serde(default = "d_signal_seconds")]
    pub signal_seconds: u32,
    /// Requeue a task stopped by its time limit or preemption
    /// (`--requeue`; the partition must allow it).
    #[serde(default = "d_true")]
    pub requeue: bool,
    /// The `runner` the tasks run (default: this one; it must be on a
    /// filesystem the nodes see).
    #[serde(default)]
    pub runner: Option<PathBuf>,
}

fn d_tracks_per_task() -> usize {
    500
}
fn d_units_per_task() -> usize {
    1
}
fn d_signal_seconds() -> u32 {
    120
}
fn d_true() -> bool {
    true
}

impl Default for SlurmSpec {
    fn default() -> Self {
        SlurmSpec {
            partition: None,
            account: None,
            qos: None,
            time: None,
            cpus_per_task: None,
            mem: None,
            gpus: None,
            max_parallel: None,
            setup: Vec::new(),
            extra_args: Vec::new(),
            tracks_per_task: d_tracks_per_task(),
            units_per_task: d_units_per_task(),
            signal_seconds: d_signal_seconds(),
            requeue: true,
            runner: None,
        }
    }
}

/// A name that goes into an `#SBATCH` line: letters, digits and `_-.,:+=`.
fn plain(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,:+=".contains(c))
}

/// SLURM's time formats: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S".
fn slurm_time(v: &str) -> bool {
    let (days, rest) = match v.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, v),
    };
    let num = |s: &str| !s.is_empty() && s.len() <= 4 && s.chars().all(|c| c.is_ascii_digit());
    days.is_none_or(num)
        && !rest.is_empty()
        && rest.split(':').count() <= 3
        && rest.split(':').all(num)
}

/// "8G", "500M", "1024" (MB), "2T".
fn slurm_mem(v: &str) -> bool {
    let digits = v.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    !digits.is_empty() && digits.len() + 1 >= v.len() && digits.chars().all(|c| c.is_ascii_digit())
}

impl SlurmSpec {
    /// The key at fault and why, for a located spec error.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for (key, v) in [
            ("partition", &self.partition),
            ("account", &self.account),
            ("qos", &self.qos),
        ] {
            if let Some(v) = v {
                if !plain(v) {
                    return Err((
                        key,
                        format!(
                            "`{}` is not a SLURM name (letters, digits, _-.,:+= only)",
                            v.escape_debug()
                        ),
                    ));
                }
            }
        }
        if let Some(t) = &self.time {
            if !slurm_time(t) {
                return Err((
                    "time",
                    format!("`{}` is not a SLURM time limit; e.g. \"30\" (minutes), \"2:00:00\", \"1-12:00:00\"", t.escape_debug()),
                ));
            }
        }
        if let Some(m) = &self.mem {
            if !slurm_mem(m) {
                return Err((
                    "mem",
                    format!(
                        "`{}` is not a memory size; e.g. \"8G\" or \"500M\"",
                        m.escape_debug()
                    ),
                ));
            }
        }
        for (key, v) in [
            ("cpus_per_task", self.cpus_per_task),
            ("gpus", self.gpus),
            ("max_parallel", self.max_parallel),
        ] {
            if v == Some(0) {
                return Err((
                    key,
                    "must be at least 1 (leave it out for SLURM's default)".into(),
                ));
            }
        }
        if self.tracks_per_task == 0 {
            return Err(("tracks_per_task", "must be at least 1".into()));
        }
        if self.units_per_task == 0 {
            return Err(("units_per_task", "must be at least 1".into()));
        }
        if let Some(a) = self
            .extra_args
            .iter()
            .find(|a| a.contains(['\n', '\r']) || a.trim().is_empty())
        {
            return Err((
                "extra_args",
                format!(
                    "`{}`: each argument is one non-empty line",
                    a.escape_debug()
                ),
            ));
        }
        if let Some(l) = self.setup.iter().find(|l| l.contains(['\n', '\r'])) {
            return Err((
                "setup",
                format!("`{}`: give one shell line per list item", l.escape_debug()),
            ));
        }
        Ok(())
    }

    /// The `#SBATCH` options every job of a submission shares.
    pub fn sbatch_options(&self) -> Vec<String> {
        let mut o = Vec::new();
        let mut opt = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                o.push(format!("--{k}={v}"));
            }
        };
        opt("partition", &self.partition);
        opt("account", &self.account);
        opt("qos", &self.qos);
        opt("time", &self.time);
        opt("mem", &self.mem);
        if let Some(c) = self.cpus_per_task {
            o.push(format!("--cpus-per-task={c}"));
        }
        if let Some(g) = self.gpus {
            o.push(format!("--gres=gpu:{g}"));
        }
        o.push(format!("--signal=B:USR1@{}", self.signal_seconds));
        if self.requeue {
            o.push("--requeue".into());
        }
        o.extend(self.extra_args.iter().cloned());
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_go_into_sbatch_lines_are_checked() {
        assert!(
            slurm_time("30")
                && slurm_time("2:00:00")
                && slurm_time("1-12:00:00")
                && slurm_time("1-12")
        );
        assert!(
            !slurm_time("2h") && !slurm_time("") && !slurm_time("1:2:3:4") && !slurm_time("-5")
        );
        assert!(slurm_mem("8G") && slurm_mem("500M") && slurm_mem("1024"));
        assert!(!slurm_mem("8GB") && !slurm_mem("G") && !slurm_mem("8 G"));
        let bad = SlurmSpec {
            partition: Some("gpu\n#SBATCH --wrap=rm".into()),
            ..SlurmSpec::default()
        };
        assert_eq!(bad.check().unwrap_err().0, "partition");
        let ok = SlurmSpec {
            partition: Some("gpu".into()),
            gpus: Some(2),
            time: Some("1:00:00".into()),
            extra_args: vec!["--constraint=a100".into()],
            ..SlurmSpec::default()
        };
        ok.check().unwrap();
        let o = ok.sbatch_options();
        assert!(o.contains(&"--gres=gpu:2".to_string()));
        assert!(o.contains(&"--partition=gpu".to_string()));
        assert!(o.contains(&"--requeue".to_string()));
        assert!(o.contains(&"--constraint=a100".to_string()));
    }
}
