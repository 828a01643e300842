//! The batch scripts of a submission. Every task runs `runner` against the
//! frozen experiment and the shared cache; the script only adds what SLURM
//! needs: resources, logs, the setup lines, and a trap that turns the
//! time-limit signal into a clean stop and a requeue.

use std::path::Path;

use super::SlurmSpec;

/// What a job of the submission does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Per-track features, an array over track shards.
    Features { shards: usize },
    /// The units listed in `units.txt`, `per_task` of them (in list order)
    /// to each array task.
    Units { count: usize, per_task: usize },
    /// The report, after every unit, whatever their outcome.
    Report,
}

impl Job {
    pub fn name(self) -> &'static str {
        match self {
            Job::Features { .. } => "features",
            Job::Units { .. } => "units",
            Job::Report => "report",
        }
    }
}

/// Quotes a value for a POSIX shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub struct Paths<'a> {
    pub runner: &'a Path,
    pub submission: &'a Path,
    pub workdir: &'a Path,
}

/// The script of one job.
pub fn script(job: Job, experiment: &str, spec: &SlurmSpec, p: &Paths) -> String {
    let sub = p.submission.display().to_string();
    let mut s = String::from("#!/bin/bash\n");
    let log = match job {
        Job::Report => "report.out".to_string(),
        _ => format!("{}-%a.out", job.name()),
    };
    let mut sbatch = vec![
        format!("--job-name=vaerun-{experiment}-{}", job.name()),
        format!("--output={sub}/logs/{log}"),
        // A requeued task appends to its log instead of erasing it.
        "--open-mode=append".to_string(),
        format!("--chdir={}", p.workdir.display()),
    ];
    match job {
        Job::Features { shards } => sbatch.push(format!("--array=0-{}", shards - 1)),
        Job::Units { count, per_task } => {
            let tasks = count.div_ceil(per_task.max(1));
            sbatch.push(match spec.max_parallel {
                Some(m) => format!("--array=0-{}%{m}", tasks - 1),
                None => format!("--array=0-{}", tasks - 1),
            })
        }
        Job::Report => {}
    }
    let mut options = spec.sbatch_options();
    if job == Job::Report {
        // The report computes nothing heavy: no GPU, and it must not be
        // requeued into a loop.
        options.retain(|o| !o.starts_with("--gres=") && o != "--requeue");
    }
    sbatch.extend(options);
    for o in &sbatch {
        s.push_str(&format!("#SBATCH {o}\n"));
    }
    s.push_str(&format!(
        "# Written by `runner submit`; the experiment is frozen in {sub}/experiment.toml.\n\
         set -u\n\
         RUNNER={runner}\n\
         SUB={subq}\n\
         EXP=\"$SUB/experiment.toml\"\n\
         REQUEUE={requeue}\n\
         # The frozen file is the whole configuration: no RUNNER_* overrides.\n\
         for v in $(env | sed -n 's/^\\(RUNNER_[A-Za-z0-9_]*__[A-Za-z0-9_]*\\)=.*/\\1/p'); do unset \"$v\"; done\n\
         if [ -n \"${{SLURM_CPUS_PER_TASK:-}}\" ]; then export RAYON_NUM_THREADS=\"$SLURM_CPUS_PER_TASK\"; fi\n",
        runner = quote(&p.runner.display().to_string()),
        subq = quote(&sub),
        requeue = u8::from(spec.requeue && job != Job::Report),
    ));
    for line in &spec.setup {
        s.push_str(line);
        s.push('\n');
    }
    s.push_str(
        "child=\n\
         stop() {\n\
         \x20 echo \"vaerun: $1 at $(date '+%F %T'): stopping this task\" >&2\n\
         \x20 [ -n \"$child\" ] && kill -TERM \"$child\" 2>/dev/null && wait \"$child\"\n\
         \x20 if [ \"$REQUEUE\" = 1 ] && [ \"$1\" = SIGUSR1 ]; then\n\
         \x20   echo \"vaerun: requeueing job $SLURM_JOB_ID; its finished artifacts are cached\" >&2\n\
         \x20   scontrol requeue \"$SLURM_JOB_ID\"\n\
         \x20 fi\n\
         \x20 exit 143\n\
         }\n\
         trap 'stop SIGUSR1' USR1\n\
         trap 'stop SIGTERM' TERM\n\
         # In the background, so that the traps run while it works.\n",
    );
    let command = match job {
        Job::Features { shards } => format!(
            "\"$RUNNER\" run \"$EXP\" --stage features --shard \"$SLURM_ARRAY_TASK_ID/{shards}\""
        ),
        Job::Units { per_task, .. } => {
            // Units FIRST..FIRST+N-1 of units.txt, one after the other; the
            // task exits with the worst of their exit codes (0 < 1 < 3).
            let n = per_task.max(1);
            let unit =
                "\"$RUNNER\" run \"$EXP\" --unit \"$UNIT\" --record \"$SUB/records/unit-$i.json\"";
            let code = "c=$?; [ \"$c\" -gt \"$code\" ] && code=$c";
            s.push_str(&format!(
                "code=0\n\
                 for i in $(seq $((SLURM_ARRAY_TASK_ID * {n})) $((SLURM_ARRAY_TASK_ID * {n} + {n} - 1))); do\n\
                 \x20 UNIT=$(sed -n \"$((i + 1))p\" \"$SUB/units.txt\")\n\
                 \x20 [ -n \"$UNIT\" ] || break\n\
                 \x20 echo \"vaerun: unit $UNIT on $(hostname)\" >&2\n\
                 \x20 {unit} &\n\
                 \x20 child=$!\n\
                 \x20 wait \"$child\"; {code}\n\
                 done\n\
                 exit \"$code\"\n"
            ));
            return s;
        }
        Job::Report => "\"$RUNNER\" run \"$EXP\" --from-cache --task-records \"$SUB\"".to_string(),
    };
    s.push_str(&format!(
        "{command} &\nchild=$!\nwait \"$child\"\ncode=$?\n"
    ));
    if job == Job::Report {
        s.push_str("echo \"$code\" > \"$SUB/report.exit\"\n");
    }
    s.push_str("exit \"$code\"\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_carry_resources_arrays_and_the_signal_trap() {
        let spec = SlurmSpec {
            partition: Some("gpu".into()),
            gpus: Some(1),
            max_parallel: Some(4),
            setup: vec!["module load cuda".into()],
            ..SlurmSpec::default()
        };
        let p = Paths {
            runner: Path::new("/opt/vaerun/runner"),
            submission: Path::new("/home/u/reports/x/slurm/1"),
            workdir: Path::new("/home/u/study"),
        };
        let units = script(
            Job::Units {
                count: 12,
                per_task: 1,
            },
            "x",
            &spec,
            &p,
        );
        assert!(units.contains("#SBATCH --array=0-11%4\n"));
        assert!(units.contains("#SBATCH --gres=gpu:1\n"));
        assert!(units.contains("#SBATCH --signal=B:USR1@120\n"));
        assert!(units.contains("#SBATCH --chdir=/home/u/study\n"));
        assert!(units.contains("module load cuda\n"));
        assert!(units.contains("--unit \"$UNIT\""));
        assert!(units.contains("trap 'stop SIGUSR1' USR1"));
        let report = script(Job::Report, "x", &spec, &p);
        assert!(!report.contains("--gres") && !report.contains("--requeue"));
        assert!(report.contains("report.exit"));
        assert!(report.contains("REQUEUE=0"));
        let features = script(Job::Features { shards: 3 }, "x", &spec, &p);
        assert!(features.contains("--shard \"$SLURM_ARRAY_TASK_ID/3\""));
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    /// The grouped units script, run by bash as SLURM would run task 0 and
    /// task 2 of `--array=0-2`: each task runs its own units in order, with
    /// a record per unit, and exits with the worst exit code among them.
    #[test]
    fn a_task_runs_its_units_in_order_and_exits_with_the_worst_code() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        let units: Vec<String> = (0..7).map(|i| format!("u{i}")).collect();
        std::fs::write(sub.join("units.txt"), units.join("\n") + "\n").unwrap();
        // A stand-in for runner that logs its arguments; unit u1 fails (1).
        let runner = dir.path().join("runner");
        std::fs::write(
            &runner,
            format!(
                "#!/bin/bash\necho \"$*\" >> {}/calls\n[ \"$4\" = u1 ] && exit 1\nexit 0\n",
                sub.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = Paths {
            runner: &runner,
            submission: &sub,
            workdir: dir.path(),
        };
        let text = script(
            Job::Units {
                count: 7,
                per_task: 3,
            },
            "x",
            &SlurmSpec::default(),
            &p,
        );
        assert!(text.contains("#SBATCH --array=0-2\n"), "{text}");
        let path = dir.path().join("units.sbatch");
        std::fs::write(&path, &text).unwrap();
        let task = |id: &str| {
            std::process::Command::new("bash")
                .arg(&path)
                .env("SLURM_ARRAY_TASK_ID", id)
                .env("SLURM_JOB_ID", "1")
                .status()
                .unwrap()
                .code()
        };
        assert_eq!(task("0"), Some(1), "u1 failed, so task 0 reports it");
        assert_eq!(task("2"), Some(0), "task 2 holds only u6");
        let calls = std::fs::read_to_string(sub.join("calls")).unwrap();
        let expected: Vec<String> = [0, 1, 2, 6]
            .iter()
            .map(|i| {
                format!(
                    "run {}/experiment.toml --unit u{i} --record {}/records/unit-{i}.json",
                    sub.display(),
                    sub.display()
                )
            })
            .collect();
        assert_eq!(calls.lines().collect::<Vec<_>>(), expected);
    }
}
