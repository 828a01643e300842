//! What a person watching a run sees. On a terminal: one bar per stage and,
//! below it, one line per training in flight (model, seed, epoch i/N, loss,
//! ETA). Elsewhere (a SLURM log, CI): the same facts as plain lines, each
//! training reported every tenth of its epochs, so a log shows progress
//! without drowning in it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::models::{EpochLoss, TrainObserver};

pub struct Progress {
    multi: MultiProgress,
    /// Draw bars (a terminal, not quiet).
    bars: bool,
    /// Print plain lines (not a terminal, not quiet).
    lines: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if quiet || !tty {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        Progress {
            multi,
            bars: !quiet && tty,
            lines: !quiet && !tty,
        }
    }

    /// A stage's bar; in a log, one line when the stage starts.
    pub fn stage(&self, name: &'static str, len: usize, what: &str) -> ProgressBar {
        let pb = self.multi.add(ProgressBar::new(len as u64));
        pb.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message(name);
        if self.lines && len > 0 {
            eprintln!("{name}: {len} {what}");
        }
        pb
    }

    /// A line for one training in flight; it goes away when dropped.
    pub fn training(&self, label: String) -> Training {
        let pb = if self.bars {
            let pb = self.multi.add(ProgressBar::new(0));
            pb.set_style(
                ProgressStyle::with_template("  {prefix} epoch {pos}/{len} {msg} eta {eta}")
                    .expect("valid template"),
            );
            pb.set_prefix(label.clone());
            pb.enable_steady_tick(Duration::from_millis(500));
            Some(pb)
        } else {
            None
        };
        Training {
            label,
            pb,
            lines: self.lines,
            started: Instant::now(),
            reported: AtomicUsize::new(0),
        }
    }
}

pub struct Training {
    label: String,
    pb: Option<ProgressBar>,
    lines: bool,
    started: Instant,
    /// The last tenth reported as a plain line.
    reported: AtomicUsize,
}

impl TrainObserver for Training {
    fn epoch(&self, done: &EpochLoss, epochs: usize) {
        let loss = match done.validation {
            Some(v) => format!("loss {:.4} (validation {v:.4})", done.total),
            None => format!("loss {:.4}", done.total),
        };
        if let Some(pb) = &self.pb {
            pb.set_length(epochs as u64);
            pb.set_position(done.epoch as u64);
            pb.set_message(loss);
            return;
        }
        if !self.lines {
            return;
        }
        let tenth = done.epoch * 10 / epochs.max(1);
        if tenth > self.reported.fetch_max(tenth, Ordering::Relaxed) {
            let elapsed = self.started.elapsed().as_secs_f64();
            let eta = elapsed / done.epoch as f64 * (epochs - done.epoch) as f64;
            eprintln!(
                "  {}: epoch {}/{epochs}, {loss}, {elapsed:.0} s elapsed, about {eta:.0} s to go",
                self.label, done.epoch
            );
        }
    }
}

impl Drop for Training {
    fn drop(&mut self) {
        if let Some(pb) = &self.pb {
            pb.finish_and_clear();
        }
    }
}
