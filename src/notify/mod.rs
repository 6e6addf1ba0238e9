//! Notifications: email about a run's outcome (DESIGN.md §1, "notify"), and the mail that
//! scripts send with `send_email`. Settings in `config` (etl.toml) and `settings` (the
//! project's `notify` option and its overrides), sending in `mailer`, the message in `compose`,
//! the end-of-run flow in `run`, and in `switch` whether mail may leave a run at all (the
//! run's `--notify` / `--no-notify` over the environment's setting).

pub mod compose;
pub mod config;
pub mod mailer;
pub mod run;
pub mod settings;
mod switch;

pub use run::{after_run, Sent};
pub use settings::{NotifySpec, Plan};
pub use switch::mail_enabled;
