//! Progress of the long byte-moving commands (`backup ingest|restore`, `blocksync`,
//! `vma extract|verify|create`): the library counts into a `zferry_progress::Meter`, this
//! renders the totals — a bar on stderr when it is a terminal and the output is not JSON,
//! otherwise a tracing info line at most every 30 s and a summary line at the end.
//!
//! The pure parts (when a log line is due, the numbers and text of a line) are [`Throttle`]
//! and [`Line`]; [`OpProgress`] only wires them to indicatif and tracing.

use std::fmt;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use zferry_progress::{Progress, Totals};

use crate::human;

/// Off a terminal: at most one progress line per this interval.
pub const LOG_EVERY: Duration = Duration::from_secs(30);

/// Says when the next log line is due: `every` after the start or the previous line.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    every: Duration,
    last: Instant,
}

impl Throttle {
    pub fn new(every: Duration, start: Instant) -> Self {
        Throttle { every, last: start }
    }

    /// True (and the clock restarts) when `every` has passed since the last due time.
    pub fn due(&mut self, now: Instant) -> bool {
        if now.saturating_duration_since(self.last) >= self.every {
            self.last = now;
            true
        } else {
            false
        }
    }
}

/// One progress report: the totals with what follows from them.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub totals: Totals,
    pub elapsed: Duration,
    /// Percent of the input read, when its size is known.
    pub percent: Option<f64>,
    /// Input bytes per second so far.
    pub rate: u64,
    /// Time left at that rate, when the size is known and bytes have moved.
    pub eta: Option<Duration>,
}

impl Line {
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)] // display only
    #[allow(clippy::cast_sign_loss)] // rates are non-negative
    pub fn new(totals: Totals, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            (totals.read as f64 / secs) as u64
        } else {
            0
        };
        let percent = totals.total.map(|t| {
            if t == 0 {
                100.0
            } else {
                totals.read as f64 * 100.0 / t as f64
            }
        });
        let eta = match totals.total {
            Some(t) if rate > 0 => Some(Duration::from_secs(t.saturating_sub(totals.read) / rate)),
            _ => None,
        };
        Line {
            totals,
            elapsed,
            percent,
            rate,
            eta,
        }
    }
}

/// `1.50G of 4.00G (37%), 52.0M/s, ETA 46s; compared 10.0G, written 120M`.
impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        write!(f, "{}", human::bytes(t.read))?;
        if let (Some(total), Some(p)) = (t.total, self.percent) {
            write!(f, " of {} ({p:.0}%)", human::bytes(total))?;
        }
        write!(f, ", {}/s", human::bytes(self.rate))?;
        if let Some(eta) = self.eta {
            write!(f, ", ETA {}", human::age(eta.as_secs()))?;
        }
        f.write_str("; ")?;
        if t.compared > 0 {
            write!(f, "compared {}, ", human::bytes(t.compared))?;
        }
        write!(f, "written {}", human::bytes(t.written))
    }
}

enum Mode {
    Bar(ProgressBar),
    Log(Mutex<Throttle>),
}

/// Renders one operation's progress; give [`OpProgress::observer`] to the library call and
/// call [`OpProgress::finish`] after it returned.
pub struct OpProgress {
    label: String,
    started: Instant,
    mode: Mode,
    last: Mutex<Totals>,
}

impl fmt::Debug for OpProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpProgress")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl OpProgress {
    /// A bar when stderr is a terminal and `json` is off, else log lines.
    pub fn start(label: impl Into<String>, json: bool) -> Arc<Self> {
        let label = label.into();
        let started = Instant::now();
        let mode = if !json && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_prefix(label.clone());
            bar.set_style(spinner_style());
            bar.enable_steady_tick(Duration::from_millis(200));
            Mode::Bar(bar)
        } else {
            Mode::Log(Mutex::new(Throttle::new(LOG_EVERY, started)))
        };
        Arc::new(OpProgress {
            label,
            started,
            mode,
            last: Mutex::new(Totals::default()),
        })
    }

    /// What the library call reports to.
    pub fn observer(self: &Arc<Self>) -> Arc<dyn Progress> {
        Arc::clone(self) as Arc<dyn Progress>
    }

    /// Ends the display: the bar is cleared (the command prints its result); off a terminal a
    /// summary line is logged (`ok = false`: the operation failed).
    pub fn finish(&self, ok: bool) {
        let totals = *self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let line = Line::new(totals, self.started.elapsed());
        match &self.mode {
            Mode::Bar(bar) => bar.finish_and_clear(),
            Mode::Log(_) if ok => log(&self.label, &line, "finished"),
            Mode::Log(_) => log(&self.label, &line, "stopped"),
        }
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix}: {bytes} {binary_bytes_per_sec} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix}: [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn log(label: &str, line: &Line, what: &str) {
    let t = &line.totals;
    tracing::info!(
        op = label,
        read = t.read,
        total = t.total,
        percent = line.percent.map(|p| (p * 10.0).round() / 10.0),
        bytes_per_sec = line.rate,
        eta_secs = line.eta.map(|d| d.as_secs()),
        compared = t.compared,
        written = t.written,
        elapsed_secs = line.elapsed.as_secs(),
        "{label}: {what}: {line}"
    );
}

impl Progress for OpProgress {
    fn update(&self, totals: &Totals) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = *totals;
        match &self.mode {
            Mode::Bar(bar) => {
                if let Some(total) = totals.total
                    && bar.length() != Some(total)
                {
                    bar.set_length(total);
                    bar.set_style(bar_style());
                }
                bar.set_position(totals.read);
                let mut msg = String::new();
                if totals.compared > 0 {
                    msg = format!("compared {}, ", human::bytes(totals.compared));
                }
                msg.push_str("written ");
                msg.push_str(&human::bytes(totals.written));
                bar.set_message(msg);
            }
            Mode::Log(throttle) => {
                let now = Instant::now();
                let due = throttle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .due(now);
                if due {
                    log(
                        &self.label,
                        &Line::new(*totals, now - self.started),
                        "progress",
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_is_due_every_interval_not_before() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(30), t0);
        assert!(!t.due(t0));
        assert!(!t.due(t0 + Duration::from_secs(29)));
        assert!(t.due(t0 + Duration::from_secs(30)));
        assert!(!t.due(t0 + Duration::from_secs(59)));
        assert!(t.due(t0 + Duration::from_secs(61)));
        // A clock that seems to go back is never due.
        assert!(!t.due(t0));
    }

    #[test]
    fn line_has_percent_rate_and_eta() {
        let totals = Totals {
            read: 1 << 30,
            total: Some(4 << 30),
            compared: 10 << 30,
            written: 120 << 20,
        };
        let l = Line::new(totals, Duration::from_secs(16));
        assert_eq!(l.percent, Some(25.0));
        assert_eq!(l.rate, 64 << 20);
        assert_eq!(l.eta, Some(Duration::from_secs(48)));
        assert_eq!(
            l.to_string(),
            "1.00G of 4.00G (25%), 64.0M/s, ETA 48s; compared 10.0G, written 120M"
        );
    }

    #[test]
    fn line_without_size_or_time_has_no_eta() {
        let totals = Totals {
            read: 5000,
            total: None,
            compared: 0,
            written: 4096,
        };
        let l = Line::new(totals, Duration::ZERO);
        assert_eq!((l.percent, l.rate, l.eta), (None, 0, None));
        assert_eq!(l.to_string(), "4.88K, 0B/s; written 4.00K");
        let empty = Line::new(
            Totals {
                total: Some(0),
                ..Totals::default()
            },
            Duration::from_secs(1),
        );
        assert_eq!(empty.percent, Some(100.0));
    }
}
