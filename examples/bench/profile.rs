//! A CPU profile of each phase (`--profile`): `perf record` samples the whole machine while the
//! phase runs (Latchkey, PostgreSQL and this load generator share the same two cores, so where the
//! time goes between them matters as much as inside the server), and the summary names each
//! process's share and the server's hottest functions. `perf` (Debian's linux-perf) must be
//! installed; the software clock is used, so it works where hardware counters are not exposed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Samples per second and CPU: enough for a stable top ten in a few seconds, cheap to take.
const FREQUENCY: &str = "499";
/// Functions listed per phase.
const TOP: usize = 12;

/// Whether `perf` can record here (installed, and allowed to sample the machine).
pub fn available() -> Result<()> {
    let status = Command::new("perf")
        .args([
            "record",
            "-a",
            "-e",
            "cpu-clock",
            "-o",
            "/dev/null",
            "--",
            "true",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("perf is not installed (Debian: apt-get install linux-perf)")?;
    if !status.success() {
        bail!("perf cannot sample the machine here (kernel.perf_event_paranoid, or not root)");
    }
    Ok(())
}

/// The recordings of one run of the phases: each phase's ends when the phase is reported, and the
/// next one's begins then. Does nothing unless enabled. A recording that fails is reported and
/// skipped: a profile never stops the benchmark.
pub struct Profiler {
    dir: Option<PathBuf>,
    current: RefCell<Option<Recording>>,
    done: RefCell<Vec<PhaseProfile>>,
}

impl Profiler {
    /// Recordings kept in `dir` while they are summarised, if `enabled` (then `perf` must work).
    pub fn new(enabled: bool, dir: &Path) -> Result<Self> {
        let profiler = Self {
            dir: enabled.then(|| dir.join("profiles")),
            current: RefCell::new(None),
            done: RefCell::new(Vec::new()),
        };
        if enabled {
            available()?;
            profiler.begin();
        }
        Ok(profiler)
    }

    fn begin(&self) {
        let Some(dir) = &self.dir else { return };
        let n = self.done.borrow().len();
        match Recording::start(dir, &format!("phase-{n}")) {
            Ok(recording) => *self.current.borrow_mut() = Some(recording),
            Err(err) => eprintln!("profile: {err:#}"),
        }
    }

    /// The phase `label` has ended, measured on the server `server`: summarise its recording
    /// (unless it is too short to mean anything) and begin the next.
    pub fn phase_done(&self, label: &str, server: u32) {
        let Some(recording) = self.current.borrow_mut().take() else {
            return;
        };
        match recording.finish(label, server) {
            Ok(profile) if profile.samples >= MIN_SAMPLES => self.done.borrow_mut().push(profile),
            Ok(_) => {}
            Err(err) => eprintln!("profile of {label}: {err:#}"),
        }
        self.begin();
    }

    /// Stop the recording in progress (no phase is left) and hand over the profiles.
    pub fn finish(self) -> Vec<PhaseProfile> {
        if let Some(mut recording) = self.current.take() {
            let _ = recording.child.kill();
            let _ = recording.child.wait();
            let _ = std::fs::remove_file(&recording.data);
        }
        self.done.into_inner()
    }
}

/// Fewer samples than this (a phase measured at the same time as another) are not summarised.
const MIN_SAMPLES: u64 = 200;

/// A recording in progress.
pub struct Recording {
    child: Child,
    data: PathBuf,
    started: Instant,
}

/// perf handles SIGINT only once it has set itself up: a signal sent sooner is lost and perf
/// records on. So a recording lives at least this long, and the signal is repeated until it ends.
const SETTLE: Duration = Duration::from_millis(300);

impl Recording {
    /// Start sampling every CPU into `dir/<name>.perf.data`.
    pub fn start(dir: &Path, name: &str) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let data = dir.join(format!("{name}.perf.data"));
        let child = Command::new("perf")
            .args(["record", "-a", "-e", "cpu-clock", "-F", FREQUENCY, "-o"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start perf record")?;
        Ok(Self {
            child,
            data,
            started: Instant::now(),
        })
    }

    /// Stop sampling (SIGINT, so perf writes its file out) and summarise it: `server` is the
    /// Latchkey process's id.
    pub fn finish(mut self, phase: &str, server: u32) -> Result<PhaseProfile> {
        std::thread::sleep(SETTLE.saturating_sub(self.started.elapsed()));
        let mut stopped = false;
        for _ in 0..50 {
            let _ = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status();
            std::thread::sleep(Duration::from_millis(100));
            if self.child.try_wait()?.is_some() {
                stopped = true;
                break;
            }
        }
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_file(&self.data);
            bail!("perf record did not stop on SIGINT");
        }
        let profile = summarise(&self.data, phase, server);
        let _ = std::fs::remove_file(&self.data);
        profile
    }
}

/// Where one phase's CPU time went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhaseProfile {
    /// The phase.
    pub phase: String,
    /// Samples taken (all CPUs).
    pub samples: u64,
    /// Share of the samples per process: `latchkey`, `postgres`, `load generator`, `other`.
    pub processes: BTreeMap<String, f64>,
    /// The server's hottest functions, with their share of the server's samples.
    pub functions: Vec<(String, f64)>,
}

fn perf_output(args: &[&str]) -> Result<String> {
    let output = Command::new("perf")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .context("cannot run perf")?;
    if !output.status.success() {
        bail!("perf {} failed", args.first().copied().unwrap_or_default());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn summarise(data: &Path, phase: &str, server: u32) -> Result<PhaseProfile> {
    let file = data.to_string_lossy();
    // One line per sample: the process id and the thread's name.
    let script = perf_output(&["script", "-i", &file, "-F", "pid,comm"])?;
    let me = std::process::id();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut samples = 0;
    for line in script.lines() {
        // `comm pid`: the thread's name may have spaces, the id is the last field.
        let Some((comm, pid)) = line.trim().rsplit_once(char::is_whitespace) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let comm = comm.trim();
        let process = if pid == server {
            "latchkey"
        } else if pid == me {
            "load generator"
        } else if comm.starts_with("postgres") {
            "postgres"
        } else if pid == 0 || comm == "swapper" {
            "idle"
        } else {
            "other"
        };
        *counts.entry(process.to_owned()).or_default() += 1;
        samples += 1;
    }
    let processes = counts
        .into_iter()
        .map(|(name, n)| (name, 100.0 * n as f64 / samples.max(1) as f64))
        .collect();

    // The server's own samples by function (kernel functions marked [k]), as a share of them.
    let report = perf_output(&[
        "report",
        "-i",
        &file,
        "--stdio",
        "--no-children",
        "--percentage",
        "relative",
        "--pid",
        &server.to_string(),
        "--sort",
        "sym",
    ])?;
    let functions = report
        .lines()
        .filter(|line| !line.starts_with('#') && line.contains('%'))
        .filter_map(|line| {
            let line = line.trim();
            let (share, rest) = line.split_once('%')?;
            let share: f64 = share.trim().parse().ok()?;
            let name = rest.trim().to_owned();
            Some((shorten(&name), share))
        })
        .take(TOP)
        .collect();
    Ok(PhaseProfile {
        phase: phase.to_owned(),
        samples,
        processes,
        functions,
    })
}

/// A demangled Rust symbol without its generic arguments (`PollFn<F>` → `PollFn`; a qualified
/// path such as `<T as Trait>` is kept) and hash, bounded for a table cell.
fn shorten(symbol: &str) -> String {
    let mut out = String::new();
    let mut skipping = 0;
    for c in symbol.chars() {
        if skipping > 0 {
            match c {
                '<' => skipping += 1,
                '>' => skipping -= 1,
                _ => {}
            }
            continue;
        }
        if c == '<' && out.ends_with(|p: char| p.is_alphanumeric() || p == '_') {
            skipping = 1;
            continue;
        }
        out.push(c);
    }
    let out = match out.rfind("::h") {
        Some(at) if out[at + 3..].chars().all(|c| c.is_ascii_hexdigit()) => out[..at].to_owned(),
        _ => out,
    };
    let out = out.replace('|', "\\|");
    if out.chars().count() > 100 {
        format!("{}…", out.chars().take(99).collect::<String>())
    } else {
        out
    }
}

/// The profiles as Markdown: per backend and phase, the processes' shares and the top functions.
pub fn markdown(machine: &str, profiles: &[(String, PhaseProfile)]) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "# Where the CPU goes, per phase\n\n{machine}\n\n`perf record -a -e cpu-clock` over each \
         measured phase (warm-up included), in the same run as latest.md. Shares of all samples on \
         every CPU per process (`idle` is unused CPU), then the server's hottest functions as a \
         share of the server's own samples (`[k]`: the kernel working for it).\n",
    );
    for (backend, profile) in profiles {
        let _ = writeln!(out, "\n## {backend}: {}\n", profile.phase);
        let shares: Vec<String> = profile
            .processes
            .iter()
            .map(|(name, share)| format!("{name} {share:.0}%"))
            .collect();
        let _ = writeln!(
            out,
            "{} samples: {}\n\n| function (latchkey) | share |\n|---|---:|",
            profile.samples,
            shares.join(", ")
        );
        for (function, share) in &profile.functions {
            let _ = writeln!(out, "| {function} | {share:.1}% |");
        }
    }
    out
}
