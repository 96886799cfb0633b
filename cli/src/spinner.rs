//! A small spinner on stderr while `login` waits for the browser, with the time left. It draws
//! only when stderr is a terminal; otherwise the caller prints one plain line instead.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// A running spinner; dropping it clears its line.
#[derive(Debug)]
pub struct Spinner {
    task: Option<JoinHandle<()>>,
}

impl Spinner {
    /// Whether a spinner would draw (stderr is a terminal).
    pub fn available() -> bool {
        std::io::stderr().is_terminal()
    }

    /// Draws `message` with a spinner and the seconds left until `deadline`, when `enabled`.
    pub fn start(enabled: bool, message: String, deadline: Instant) -> Self {
        if !enabled {
            return Self { task: None };
        }
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            for frame in FRAMES.iter().cycle() {
                tick.tick().await;
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .div_ceil(1000);
                let mut stderr = std::io::stderr().lock();
                let _ = write!(stderr, "\r\x1b[2K{frame} {message} ({left}s left)");
                let _ = stderr.flush();
            }
        });
        Self { task: Some(task) }
    }

    /// Prints `text` on its own line above the spinner.
    pub fn note(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        if self.task.is_some() {
            let _ = write!(stderr, "\r\x1b[2K");
        }
        let _ = writeln!(stderr, "{text}");
    }

    /// Stops and clears the spinner.
    pub fn stop(mut self) {
        self.clear();
    }

    fn clear(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}
