//! How long a connection may wait on its server: the statement timeout (enforced by the
//! server), the read timeout (enforced by the client: nothing arrives from a server that owes
//! an answer) and TCP keepalive. Set per connection as URL parameters
//! (`?statement_timeout=30min&read_timeout=5min&keepalives_idle=60s`), defaulted for every
//! connection in etl.toml's `[connections]` (docs/operations.md#timeouts-and-keepalive).

use std::time::Duration;

/// Keepalive probes start after this much silence unless configured.
pub const DEFAULT_KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// The settings of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// The longest one statement may run; the server cancels it then. None: no limit.
    pub statement: Option<Duration>,
    /// The longest the client waits with nothing arriving while it expects an answer; then it
    /// drops the connection. None: `statement` plus a grace period, or no limit.
    pub read: Option<Duration>,
    /// Idle time before TCP keepalive probes; None turns keepalive off.
    pub keepalive_idle: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            statement: None,
            read: None,
            keepalive_idle: Some(DEFAULT_KEEPALIVE_IDLE),
        }
    }
}

/// The URL parameters (and etl.toml keys) this module reads.
pub const PARAMS: &[&str] = &[
    "statement_timeout",
    "read_timeout",
    "keepalives",
    "keepalives_idle",
];

impl Timeouts {
    /// The read limit the client enforces: `read`, or `statement` plus time for the server's
    /// own cancellation to arrive (a tenth of it, at least 5 s), or none.
    pub fn read_limit(&self) -> Option<Duration> {
        self.read.or_else(|| {
            self.statement
                .map(|s| s + (s / 10).max(Duration::from_secs(5)))
        })
    }

    /// Applies one URL parameter or etl.toml key; false when `key` is not one of `PARAMS`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        match key {
            "statement_timeout" => self.statement = timeout(key, value)?,
            "read_timeout" => self.read = timeout(key, value)?,
            "keepalives" => {
                self.keepalive_idle = match parse_switch(value) {
                    Some(false) => None,
                    Some(true) => self.keepalive_idle.or(Some(DEFAULT_KEEPALIVE_IDLE)),
                    None => {
                        return Err(format!(
                            "keepalives must be on or off (1/0, true/false), not '{value}'"
                        ))
                    }
                }
            }
            "keepalives_idle" => {
                // libpq takes plain seconds here.
                let d = match value.trim().parse::<u64>() {
                    Ok(secs) => Some(Duration::from_secs(secs)),
                    Err(_) => timeout(key, value)?,
                };
                self.keepalive_idle = match d {
                    Some(d) if d >= Duration::from_secs(1) => Some(d),
                    _ => return Err(format!("keepalives_idle must be 1s or more, not '{value}' (keepalives=off turns keepalive off)")),
                };
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `statement_timeout=2s, read_timeout=7s` (the settings behind a timeout, for messages).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.statement {
            parts.push(format!("statement_timeout={}", show(s)));
        }
        match (self.read, self.read_limit()) {
            (Some(r), _) => parts.push(format!("read_timeout={}", show(r))),
            (None, Some(r)) => {
                parts.push(format!("read_timeout={} from statement_timeout", show(r)))
            }
            (None, None) => {}
        }
        parts.join(", ")
    }
}

/// What to do when a timeout ends a statement, for messages.
pub const RAISE: &str = "if the statement legitimately takes longer, raise statement_timeout or read_timeout (a URL parameter of the connection, or [connections] in etl.toml)";

/// A timeout: a number with a unit (`500ms`, `30s`, `5min`, `2h`), or `0`/`none`/`off` for no
/// limit. A unit is required: PostgreSQL reads a bare number as milliseconds, libpq tools as
/// seconds, and a wrong guess is a factor of 1000.
pub fn timeout(key: &str, value: &str) -> Result<Option<Duration>, String> {
    let v = value.trim().to_ascii_lowercase();
    if matches!(v.as_str(), "0" | "none" | "off") {
        return Ok(None);
    }
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" | "sec" => 1.0,
        "min" => 60.0,
        "h" => 3600.0,
        "" => {
            return Err(format!(
                "{key} needs a unit: '{value}' could be milliseconds or seconds (write 500ms, 30s, 5min or 2h)"
            ))
        }
        _ => return Err(format!("{key} must be a number with ms, s, min or h (30s, 5min), not '{value}'")),
    };
    let secs = number.parse::<f64>().ok().map(|n| n * scale);
    if secs == Some(0.0) {
        return Ok(None);
    }
    let secs = secs
        .filter(|s| s.is_finite() && (0.001..=30.0 * 86400.0).contains(s))
        .ok_or_else(|| format!("{key} must be from 1ms to 30 days, not '{value}'"))?;
    Ok(Some(Duration::from_secs_f64(secs)))
}

fn parse_switch(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Some(true),
        "0" | "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// `1.5s`, `2min`, `300ms`: a duration as the user would write it.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".to_string()
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_and_zero_means_none() {
        let s = |v| timeout("statement_timeout", v);
        assert_eq!(s("30s"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(s("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(s("1.5 min"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(s("2h"), Ok(Some(Duration::from_secs(7200))));
        assert_eq!(s("0"), Ok(None));
        assert_eq!(s("none"), Ok(None));
        assert!(s("30").unwrap_err().contains("needs a unit"));
        assert!(s("5 days").unwrap_err().contains("ms, s, min or h"));
        assert_eq!(s("0s"), Ok(None));
        assert!(s("-1s").is_err() && s("0.0001s").is_err() && s("31000h").is_err());
    }

    #[test]
    fn settings_apply_in_order_and_unknown_keys_are_left_alone() {
        let mut t = Timeouts::default();
        assert_eq!(t.read_limit(), None, "no limit unless configured");
        assert_eq!(
            t.keepalive_idle,
            Some(DEFAULT_KEEPALIVE_IDLE),
            "keepalive on"
        );
        assert_eq!(t.set("statement_timeout", "2s"), Ok(true));
        assert_eq!(t.read_limit(), Some(Duration::from_secs(7)));
        assert_eq!(t.set("statement_timeout", "10min"), Ok(true));
        assert_eq!(t.read_limit(), Some(Duration::from_secs(660)));
        assert_eq!(t.set("read_timeout", "1min"), Ok(true));
        assert_eq!(t.read_limit(), Some(Duration::from_secs(60)));
        assert_eq!(t.describe(), "statement_timeout=10min, read_timeout=1min");
        assert_eq!(t.set("keepalives_idle", "30"), Ok(true));
        assert_eq!(t.keepalive_idle, Some(Duration::from_secs(30)));
        assert_eq!(t.set("keepalives", "off"), Ok(true));
        assert_eq!(t.keepalive_idle, None);
        assert_eq!(t.set("keepalives", "1"), Ok(true));
        assert_eq!(t.keepalive_idle, Some(DEFAULT_KEEPALIVE_IDLE));
        assert_eq!(t.set("sslmode", "require"), Ok(false));
        assert!(t.set("keepalives", "maybe").is_err());
        assert!(t.set("keepalives_idle", "0").is_err());
    }

    #[test]
    fn shows_durations_as_written() {
        assert_eq!(show(Duration::from_secs(7200)), "2h");
        assert_eq!(show(Duration::from_secs(90)), "90s");
        assert_eq!(show(Duration::from_secs(120)), "2min");
        assert_eq!(show(Duration::from_millis(250)), "250ms");
        assert_eq!(show(Duration::from_millis(7200)), "7.2s");
    }
}
