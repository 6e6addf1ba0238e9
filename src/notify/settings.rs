//! Who gets the run's notification and when: the project's `notify` option, overridden by the
//! environment (`[env.NAME] notify` in etl.toml), overridden by `--notify` / `--no-notify`.

use rhai::{Dynamic, Map};

use super::config::NotifyOverride;

/// How a run ended, as the `on` list names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn parse(s: &str) -> Result<Outcome, String> {
        match s {
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            other => Err(format!(
                "'{other}' is not an outcome (valid: \"success\", \"failure\")"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

const KEYS: &[&str] = &["email", "on", "attach", "enabled"];

/// The project's `notify` option, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifySpec {
    pub enabled: Option<bool>,
    pub email: Vec<String>,
    pub on: Option<Vec<Outcome>>,
    pub attach: bool,
}

impl NotifySpec {
    /// Reads `project(..., #{ notify: ... })` as kept in `ProjectMeta::extra`: a map with
    /// `email`, `on`, `attach`, `enabled`, or `false`/`true`. Absent: nothing configured.
    pub fn from_meta(extra: &Map) -> Result<NotifySpec, String> {
        match extra.get("notify") {
            None => Ok(NotifySpec::default()),
            Some(v) => NotifySpec::from_dynamic(v),
        }
    }

    fn from_dynamic(v: &Dynamic) -> Result<NotifySpec, String> {
        const WHAT: &str = "project() option 'notify'";
        if let Ok(b) = v.as_bool() {
            return Ok(NotifySpec {
                enabled: Some(b),
                ..NotifySpec::default()
            });
        }
        let Some(map) = v.clone().try_cast::<Map>() else {
            return Err(format!(
                "{WHAT} must be a map #{{ email: [...], on: [...] }} or false, not {}",
                v.type_name()
            ));
        };
        let mut spec = NotifySpec::default();
        for (key, value) in map {
            match key.as_str() {
                "email" => spec.email = strings(value, "email")?,
                "on" => {
                    spec.on = Some(
                        strings(value, "on")?
                            .iter()
                            .map(|s| Outcome::parse(s).map_err(|e| format!("{WHAT}: on: {e}")))
                            .collect::<Result<_, _>>()?,
                    )
                }
                "attach" => {
                    spec.attach = value
                        .as_bool()
                        .map_err(|_| format!("{WHAT}: attach must be true or false"))?
                }
                "enabled" => {
                    spec.enabled = Some(
                        value
                            .as_bool()
                            .map_err(|_| format!("{WHAT}: enabled must be true or false"))?,
                    )
                }
                other => {
                    return Err(format!(
                        "{WHAT}: unknown option '{other}' (valid options: {})",
                        KEYS.join(", ")
                    ))
                }
            }
        }
        for address in &spec.email {
            check_address(address).map_err(|e| format!("{WHAT}: email: {e}"))?;
        }
        Ok(spec)
    }
}

fn strings(v: Dynamic, key: &str) -> Result<Vec<String>, String> {
    let wrong = || format!("project() option 'notify': {key} must be a list of strings");
    if v.is_string() {
        return Ok(vec![v.into_string().map_err(|_| wrong())?]);
    }
    let arr = v.into_array().map_err(|_| wrong())?;
    arr.into_iter()
        .map(|x| x.into_string().map_err(|_| wrong()))
        .collect()
}

/// A rough check that catches typos early; the mail library validates fully when sending.
pub fn check_address(address: &str) -> Result<(), String> {
    let bare = match (address.rfind('<'), address.rfind('>')) {
        (Some(a), Some(b)) if a < b => &address[a + 1..b],
        _ => address,
    };
    match bare.split_once('@') {
        Some((user, domain)) if !user.is_empty() && !domain.is_empty() && !bare.contains(' ') => {
            Ok(())
        }
        _ => Err(format!("'{address}' is not an email address")),
    }
}

/// What applies to this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Mail may leave this run (the run notification and `send_email`).
    pub enabled: bool,
    pub email: Vec<String>,
    pub on: Vec<Outcome>,
    pub attach: bool,
}

impl Plan {
    /// Project option, then the environment's override, then the command line
    /// (`Some(true)` = `--notify`, `Some(false)` = `--no-notify`).
    pub fn resolve(spec: &NotifySpec, env: Option<&NotifyOverride>, cli: Option<bool>) -> Plan {
        let mut plan = Plan {
            enabled: spec.enabled.unwrap_or(true),
            email: spec.email.clone(),
            on: spec.on.clone().unwrap_or_else(|| vec![Outcome::Failure]),
            attach: spec.attach,
        };
        if let Some(o) = env {
            if let Some(e) = o.enabled {
                plan.enabled = e;
            }
            if let Some(email) = &o.email {
                plan.email = email.clone();
            }
            if let Some(on) = &o.on {
                // Validated when etl.toml was read.
                plan.on = on.iter().filter_map(|s| Outcome::parse(s).ok()).collect();
            }
            if let Some(a) = o.attach {
                plan.attach = a;
            }
        }
        if let Some(c) = cli {
            plan.enabled = c;
        }
        plan
    }

    /// Whether a run that ended with `outcome` sends its notification.
    pub fn wants(&self, outcome: Outcome) -> bool {
        self.enabled && !self.email.is_empty() && self.on.contains(&outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(src: &str) -> Result<NotifySpec, String> {
        let engine = rhai::Engine::new();
        let v: Dynamic = engine.eval(src).unwrap();
        let mut m = Map::new();
        m.insert("notify".into(), v);
        NotifySpec::from_meta(&m)
    }

    #[test]
    fn reads_the_project_option() {
        let s =
            spec(r#"#{ email: ["a@x.org"], on: ["failure", "success"], attach: true }"#).unwrap();
        assert_eq!(s.email, vec!["a@x.org"]);
        assert_eq!(s.on, Some(vec![Outcome::Failure, Outcome::Success]));
        assert!(s.attach);
        assert!(spec(r#"#{ mail: [] }"#)
            .unwrap_err()
            .contains("unknown option 'mail'"));
        assert!(spec(r#"#{ email: "nobody" }"#)
            .unwrap_err()
            .contains("not an email address"));
        assert!(spec(r#"#{ on: ["always"] }"#).is_err());
        assert_eq!(spec("false").unwrap().enabled, Some(false));
    }

    #[test]
    fn environment_then_command_line_override_the_project() {
        let s = NotifySpec {
            email: vec!["a@x.org".into()],
            ..NotifySpec::default()
        };
        let plan = Plan::resolve(&s, None, None);
        assert!(plan.wants(Outcome::Failure) && !plan.wants(Outcome::Success));
        let off = NotifyOverride {
            enabled: Some(false),
            ..NotifyOverride::default()
        };
        assert!(!Plan::resolve(&s, Some(&off), None).wants(Outcome::Failure));
        assert!(Plan::resolve(&s, Some(&off), Some(true)).wants(Outcome::Failure));
        assert!(!Plan::resolve(&s, None, Some(false)).wants(Outcome::Failure));
        let other = NotifyOverride {
            email: Some(vec!["dev@x.org".into()]),
            on: Some(vec!["success".into()]),
            ..NotifyOverride::default()
        };
        let plan = Plan::resolve(&s, Some(&other), None);
        assert_eq!(plan.email, vec!["dev@x.org"]);
        assert!(plan.wants(Outcome::Success) && !plan.wants(Outcome::Failure));
    }
}
