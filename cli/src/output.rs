//! Where output goes: results on stdout (text, or one JSON document per line with `--json`),
//! notes and errors on stderr (errors on stdout as JSON with `--json`); time formatting.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use integrations::auth_core::redact::strip_controls;
use serde_json::Value;

use crate::error::CliError;

/// The output mode of this run.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// Human output, or JSON with `json`.
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// A result line on stdout, [`printable`] (flushed at once: another process may be waiting
    /// for it).
    pub fn line(&self, text: &str) {
        write_line(&printable(text));
    }

    /// A body received from a provider, on stdout: byte for byte when stdout is not a terminal
    /// (a pipe or a file gets exactly what was received); on a terminal, as
    /// [`terminal_text`], ending with a newline.
    pub fn body(&self, body: &[u8]) {
        let mut stdout = std::io::stdout().lock();
        if stdout.is_terminal() {
            let mut text = terminal_text(body);
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            let _ = stdout.write_all(text.as_bytes());
        } else {
            let _ = stdout.write_all(body);
        }
        let _ = stdout.flush();
    }

    /// A JSON document on one line of stdout (JSON escapes control characters itself).
    pub fn json(&self, value: &Value) {
        write_line(&value.to_string());
    }

    /// A [`printable`] note for the person at the terminal, on stderr; silent with `--json`.
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{}", printable(text));
        }
    }

    /// Reports `err` (JSON on stdout, or `error: ...` on stderr) and returns its exit code.
    pub fn error(&self, err: &CliError) -> ExitCode {
        if self.json {
            self.json(&err.to_json());
        } else {
            eprintln!("error: {}", err.message());
        }
        ExitCode::from(err.kind().code())
    }
}

/// Writes `text` and a newline on stdout, and flushes.
fn write_line(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

/// `text` safe for a terminal: its lines kept, each without control characters or escape
/// sequences (names and messages from a provider may carry them).
fn printable(text: &str) -> String {
    text.split('\n')
        .map(strip_controls)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `body` as text a terminal shows as it reads: invalid UTF-8 replaced, tabs, newlines and CRLF
/// line ends kept, and everything else [`strip_controls`] removes (other control characters, a
/// lone carriage return that would let a line overwrite itself, escape sequences, bidirectional
/// overrides) removed from what lies between them.
fn terminal_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut lines = text.split('\n').peekable();
    let mut out = String::with_capacity(text.len());
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        let (line, crlf) = match line.strip_suffix('\r') {
            Some(line) if !last => (line, true),
            _ => (line, false),
        };
        let cells: Vec<String> = line.split('\t').map(strip_controls).collect();
        out.push_str(&cells.join("\t"));
        if crlf {
            out.push('\r');
        }
        if !last {
            out.push('\n');
        }
    }
    out
}

/// `2026-11-23T10:27:25Z` (UTC, whole seconds).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("unix time {secs}"),
    }
}

/// Unix seconds, for JSON.
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// `in 59m`, `3h ago`, `now`.
pub fn relative(t: SystemTime, now: SystemTime) -> String {
    match t.duration_since(now) {
        Ok(ahead) if ahead >= Duration::from_secs(1) => format!("in {}", short(ahead)),
        Ok(_) => "now".to_string(),
        Err(e) if e.duration() < Duration::from_secs(1) => "now".to_string(),
        Err(e) => format!("{} ago", short(e.duration())),
    }
}

/// The largest unit or two: `45s`, `59m`, `2h 5m`, `3d 4h`.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Left-aligned columns separated by two spaces, the last one unpadded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        line.trim_end().to_string()
    };
    let mut out = render(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&render(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_430_845)),
            "2026-11-23T10:47:25Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1969-12-31T23:59:59Z"
        );
        // Past year 9999 (a damaged or hostile store): said plainly, never a panic.
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(400_000_000_000)),
            "unix time 400000000000"
        );
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(relative(now + Duration::from_secs(3540), now), "in 59m");
        assert_eq!(
            relative(now - Duration::from_secs(3 * 3600 + 60), now),
            "3h 1m ago"
        );
        assert_eq!(relative(now, now), "now");
        assert_eq!(
            relative(now + Duration::from_secs(2 * 86_400 + 7200), now),
            "in 2d 2h"
        );
    }

    #[test]
    fn printable_keeps_lines_and_drops_escape_sequences() {
        assert_eq!(
            printable("Greg \u{1b}[2JSanchez\r\nworkspaces: \u{1b}]0;x\u{7}Acme\t"),
            "Greg Sanchez\nworkspaces: Acme"
        );
    }

    #[test]
    fn terminal_text_keeps_tabs_and_line_ends_and_drops_escape_sequences() {
        assert_eq!(
            terminal_text(b"a\tb\r\nc\t\x1b]0;title\x07d\x1b[2J\r\n\x1b[31mred\x1b[0m\n"),
            "a\tb\r\nc\td\r\nred\n"
        );
        // A lone carriage return (overwriting the line) and other controls go; so does a final
        // one, which no newline follows.
        assert_eq!(
            terminal_text("paid\rdue\u{8}\u{9b}1A\u{202e}x\r".as_bytes()),
            "paidduex"
        );
        assert_eq!(terminal_text(b"\xff\tok"), "\u{fffd}\tok");
        assert_eq!(terminal_text(b""), "");
    }

    #[test]
    fn tables_align_columns() {
        let text = table(
            &["A", "LONGER", "C"],
            &[vec!["xyz".into(), "1".into(), "last".into()]],
        );
        assert_eq!(text, "A    LONGER  C\nxyz  1       last");
    }
}
