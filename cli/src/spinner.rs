//! A spinner on stderr while `login` waits for the browser, with the time left (indicatif). It
//! draws only when stderr is a terminal; otherwise the caller prints one plain line instead.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use tokio::time::Instant;

/// A running spinner; dropping it clears its line.
#[derive(Debug)]
pub struct Spinner {
    bar: Option<ProgressBar>,
}

impl Spinner {
    /// Whether a spinner would draw (stderr is a terminal).
    pub fn available() -> bool {
        std::io::stderr().is_terminal()
    }

    /// Draws `message` with a spinner and the seconds left until `deadline`, when `enabled`.
    pub fn start(enabled: bool, message: String, deadline: Instant) -> Self {
        if !enabled {
            return Self { bar: None };
        }
        let left = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let secs = deadline
                .saturating_duration_since(Instant::now())
                .as_millis()
                .div_ceil(1000);
            let _ = write!(w, "{secs}");
        };
        let style = ProgressStyle::with_template("{spinner} {msg} ({left}s left)")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("left", left);
        let bar = ProgressBar::new_spinner()
            .with_style(style)
            .with_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Self { bar: Some(bar) }
    }

    /// Prints `text` on its own line above the spinner.
    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// Stops and clears the spinner.
    pub fn stop(mut self) {
        self.clear();
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}
