//! `runner submit` against a real single-node SLURM cluster: Debian's
//! slurmctld, slurmd and munge, started here with their own configuration
//! and state in a temporary folder (`SLURM_CONF` points at it), and stopped
//! by pid. Needs root (slurmd runs jobs as their user) and the packages
//! `slurmctld slurmd slurm-client munge`; elsewhere the test says why it
//! skips, unless VAERUN_REQUIRE_SLURM=1 (CI) turns that into a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::text;

/// Why this machine cannot run the cluster, if it cannot.
fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (slurmd must run jobs as their owner)".into());
    }
    for bin in [
        "slurmctld",
        "slurmd",
        "munged",
        "sbatch",
        "squeue",
        "scancel",
    ] {
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .any(|d| Path::new(d).join(bin).is_file());
        if !found {
            return Some(format!(
                "`{bin}` not found (apt-get install slurmctld slurmd slurm-client munge)"
            ));
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hostname() -> String {
    vaerun::cache::lease::hostname()
}

/// A running single-node cluster; dropping it stops the daemons.
struct Cluster {
    dir: tempfile::TempDir,
    daemons: Vec<Child>,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        let sh = |cmd: &str| {
            let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
            assert!(o.status.success(), "{cmd}: {}", text(&o));
        };
        // munged insists on its own user owning the key and on a socket
        // folder everyone can traverse.
        sh(&format!(
            "chmod 755 {t} && mkdir -p {t}/munge {t}/state {t}/spool && \
             head -c 1024 /dev/urandom > {t}/munge/munge.key && \
             chown -R munge:munge {t}/munge && chmod 755 {t}/munge && chmod 400 {t}/munge/munge.key",
            t = t.display()
        ));
        let munge = t.join("munge");
        let munged = Command::new("runuser")
            .args(["-u", "munge", "--", "munged", "-F"])
            .arg(format!("--socket={}", munge.join("munge.sock").display()))
            .arg(format!("--key-file={}", munge.join("munge.key").display()))
            .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
            .arg(format!("--log-file={}", munge.join("munged.log").display()))
            .arg(format!(
                "--seed-file={}",
                munge.join("munged.seed").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start munged");
        let mut cluster = Cluster {
            dir,
            daemons: vec![munged],
        };
        let t = cluster.dir.path().to_path_buf();
        wait_for("munge socket", || munge.join("munge.sock").exists());
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::fs::write(t.join("plugstack.conf"), "").unwrap();
        let conf = format!(
            "ClusterName=vaeruntest\n\
             SlurmctldHost={host}(127.0.0.1)\n\
             SlurmctldPort={p1}\n\
             SlurmdPort={p2}\n\
             AuthType=auth/munge\n\
             AuthInfo=socket={sock}\n\
             CredType=cred/munge\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             StateSaveLocation={t}/state\n\
             SlurmdSpoolDir={t}/spool\n\
             SlurmctldPidFile={t}/slurmctld.pid\n\
             SlurmdPidFile={t}/slurmd.pid\n\
             SlurmctldLogFile={t}/slurmctld.log\n\
             SlurmdLogFile={t}/slurmd.log\n\
             PlugStackConfig={t}/plugstack.conf\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\n\
             JobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\n\
             MpiDefault=none\n\
             ReturnToService=2\n\
             MinJobAge=600\n\
             SchedulerParameters=sched_interval=1\n\
             NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=1000 State=UNKNOWN\n\
             PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            host = hostname(),
            p1 = free_port(),
            p2 = free_port(),
            sock = munge.join("munge.sock").display(),
            t = t.display(),
        );
        std::fs::write(t.join("slurm.conf"), conf).unwrap();
        for daemon in ["slurmctld", "slurmd"] {
            let mut c = Command::new(daemon);
            c.args(["-D", "-f"]).arg(t.join("slurm.conf"));
            if daemon == "slurmctld" {
                c.arg("-i");
            }
            let child = c
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {daemon}: {e}"));
            cluster.daemons.push(child);
        }
        wait_for("an idle node", || {
            cluster
                .cmd("sinfo", &["-h", "-o", "%t"])
                .map(|s| s.trim() == "idle")
                .unwrap_or(false)
        });
        cluster
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    fn cmd(&self, bin: &str, args: &[&str]) -> Option<String> {
        let o = Command::new(bin)
            .args(args)
            .env("SLURM_CONF", self.conf())
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// `runner` with this cluster's configuration.
    fn runner(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_runner"))
            .current_dir(dir)
            .args(args)
            .env("SLURM_CONF", self.conf())
            .output()
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.cmd("scancel", &["--user=root"]);
        // Daemons in reverse order of their start, each by its pid.
        for child in self.daemons.iter_mut().rev() {
            // SAFETY: sending SIGTERM to a child we spawned.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn results(path: &Path) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// cell id → metrics object.
fn metrics_by_cell(
    rec: &serde_json::Value,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    rec["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cell"].as_str().unwrap().to_string(),
                c["metrics"].clone(),
            )
        })
        .collect()
}

fn quickstart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/quickstart.toml")
}

#[test]
fn submit_runs_the_quickstart_on_a_real_cluster_and_resubmits_only_what_is_missing() {
    if let Some(why) = unavailable() {
        assert!(
            std::env::var_os("VAERUN_REQUIRE_SLURM").is_none(),
            "VAERUN_REQUIRE_SLURM is set but the SLURM test cannot run: {why}"
        );
        eprintln!("skipping the SLURM test: {why}");
        return;
    }
    let cluster = Cluster::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let q = quickstart();
    let q = q.to_str().unwrap();
    let set = |cache: &str, out: &str| -> Vec<String> {
        vec![
            "--set".into(),
            format!("experiment.cache_dir={}", w.join(cache).display()),
            "--set".into(),
            format!("report.out_dir={}", w.join(out).display()),
        ]
    };
    let args = |head: &[&str], tail: &[String]| -> Vec<String> {
        head.iter()
            .map(|s| s.to_string())
            .chain(tail.iter().cloned())
            .collect()
    };
    let t0 = Instant::now();
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = cluster.runner(w, &a);
        eprintln!(
            "[{:6.1} s] runner {}",
            t0.elapsed().as_secs_f64(),
            a[..2].join(" ")
        );
        o
    };

    // The reference: the same study run locally.
    let o = run(args(&["run", q, "-q"], &set("local-cache", "local")));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let local = metrics_by_cell(&results(&w.join("local/quickstart/results.json")));

    // The cluster, from an empty cache: features, then 5 units (VAE x 3
    // seeds, PCA, raw), then the report.
    let o = run(args(
        &["submit", q, "--wait", "--poll", "0.5"],
        &set("cache", "reports"),
    ));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("to submit: 5 unit(s), features of 240 track(s)"),
        "{out}"
    );
    let remote = metrics_by_cell(&results(&w.join("reports/quickstart/results.json")));
    assert_eq!(remote.len(), 9);
    assert_eq!(
        local, remote,
        "cell for cell, the same metrics as a local run"
    );
    assert!(w.join("reports/quickstart/report.html").is_file());
    let o = run(args(&["status", q], &set("cache", "reports")));
    assert!(text(&o).contains("units: 5 cached"), "{}", text(&o));

    // Nothing to do: a resubmission submits no features and no units.
    let o = run(args(&["submit", q, "--dry-run"], &set("cache", "reports")));
    assert!(text(&o).contains("to submit: 0 unit(s)"), "{}", text(&o));

    // Kill one unit's task mid-training: the rest finish, the report job
    // still runs (afterany) and lists the lost cells.
    // Slower training, one task at a time: task 0 (a VAE) runs first and
    // long enough to be cancelled mid-way.
    let slow = [
        "--set",
        "models.vae.epochs=400",
        "--set",
        "executor.slurm.max_parallel=1",
    ];
    let kill_set = args(&slow, &set("cache2", "reports2"));
    let o = run(args(&["submit", q], &kill_set));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sub = std::fs::read_to_string(w.join("reports2/quickstart/slurm/latest")).unwrap();
    let sub = w.join("reports2/quickstart/slurm").join(sub.trim());
    let record: serde_json::Value = results(&sub.join("submission.json"));
    let units_job = record["jobs"]["units"].as_str().unwrap().to_string();
    let victim = 0;
    let victim_unit = record["units"][victim].as_str().unwrap().to_string();
    assert!(victim_unit.starts_with("mfcc/vae/seed="), "{victim_unit}");
    // Wait until it runs (its log says so), then cancel that array task.
    wait_for("the first unit to start", || {
        std::fs::read_to_string(sub.join(format!("logs/units-{victim}.out")))
            .is_ok_and(|l| l.contains(&format!("vaerun: unit {victim_unit}")))
    });
    let task = format!("{units_job}_{victim}");
    cluster.cmd("scancel", &[&task]).expect("scancel");
    wait_for("the report job", || sub.join("report.exit").exists());
    assert_eq!(
        std::fs::read_to_string(sub.join("report.exit"))
            .unwrap()
            .trim(),
        "1",
        "some cells failed"
    );
    let rec = results(&w.join("reports2/quickstart/results.json"));
    let failed: Vec<&serde_json::Value> = rec["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "one cell per unit (one clusterer)");
    let why = failed[0]["error"].as_str().unwrap();
    assert!(why.contains("did not finish"), "{why}");
    let o = run(args(&["status", q], &kill_set));
    assert!(text(&o).contains("did not finish"), "{}", text(&o));

    // Resubmit: only the cancelled unit runs again.
    let o = run(args(&["submit", q, "--wait", "--poll", "0.5"], &kill_set));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("to submit: 1 unit(s)"), "{}", text(&o));
    let latest = std::fs::read_to_string(w.join("reports2/quickstart/slurm/latest")).unwrap();
    let units = std::fs::read_to_string(
        w.join("reports2/quickstart/slurm")
            .join(latest.trim())
            .join("units.txt"),
    )
    .unwrap();
    assert_eq!(units.trim(), victim_unit);
    let rec = results(&w.join("reports2/quickstart/results.json"));
    assert!(rec["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["status"] == "ok"));
}

/// What needs no cluster: the scripts of a dry run, the settings' checks,
/// and the environment layering of executor settings.
#[test]
fn dry_run_scripts_carry_the_settings_which_stay_out_of_keys() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::tiny_experiment(&dir.path().join("cache"), &dir.path().join("reports"));
    common::write(dir.path(), "tiny.toml", &exp);
    let plain = common::runner(dir.path(), &["plan", "tiny.toml"]);
    let o = Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir.path())
        .args([
            "submit",
            "tiny.toml",
            "--dry-run",
            "--set",
            "executor.slurm.time=\"1:30:00\"",
            "--set",
            "executor.slurm.setup=[\"module load cuda\"]",
        ])
        .env("RUNNER_EXECUTOR__SLURM__PARTITION", "gpu")
        .env("RUNNER_EXECUTOR__SLURM__GPUS", "2")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("to submit: 4 unit(s), features of 18 track(s) in 1 task(s)"),
        "{out}"
    );
    for line in [
        "#SBATCH --partition=gpu",
        "#SBATCH --gres=gpu:2",
        "#SBATCH --time=1:30:00",
        "#SBATCH --array=0-3",
        "#SBATCH --array=0-0",
        "module load cuda",
        "--unit \"$UNIT\"",
        "--from-cache --task-records",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    // The frozen experiment holds the resolved settings; the units file
    // lists what the array runs.
    let sub = std::fs::read_dir(dir.path().join("reports/tiny/slurm"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let frozen = std::fs::read_to_string(sub.join("experiment.toml")).unwrap();
    assert!(frozen.contains("partition = \"gpu\""), "{frozen}");
    let units = std::fs::read_to_string(sub.join("units.txt")).unwrap();
    assert_eq!(units.lines().count(), 4);
    // Executor settings are where work runs, not what it computes: the
    // frozen experiment plans the same keys.
    let frozen_plan = common::runner(
        dir.path(),
        &["plan", sub.join("experiment.toml").to_str().unwrap()],
    );
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout).replace("tiny.toml", ""),
        String::from_utf8_lossy(&frozen_plan.stdout).replace("tiny.toml", "")
    );

    // Unknown keys and values that would break a batch script are errors.
    for (set, want) in [
        (
            "executor.slurm.partion=gpu",
            "unknown key `partion`; did you mean `partition`?",
        ),
        (
            "executor.slurm.time=\"2 hours\"",
            "executor.slurm.time: `2 hours` is not a SLURM time limit",
        ),
        (
            "executor.slurm.partition=\"a b\"",
            "executor.slurm.partition",
        ),
    ] {
        let o = common::runner(
            dir.path(),
            &["submit", "tiny.toml", "--dry-run", "--set", set],
        );
        assert_eq!(o.status.code(), Some(2), "{set}: {}", text(&o));
        assert!(text(&o).contains(want), "{set}: {}", text(&o));
    }
}
