//! Which SQL a connection speaks, named by its URL scheme family: what picks `x.postgres.sql`
//! over `x.sql` and what migrations check before they run.

use std::path::{Path, PathBuf};

use super::Connection;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    Postgres,
    Sqlite,
    Mysql,
    /// SQL Server's T-SQL.
    Mssql,
    Oracle,
    /// Whatever the ODBC driver's database speaks (`x.odbc.sql`).
    Odbc,
    Snowflake,
    /// BigQuery's GoogleSQL.
    Bigquery,
}

impl Dialect {
    pub const ALL: [Dialect; 8] = [
        Dialect::Postgres,
        Dialect::Sqlite,
        Dialect::Mysql,
        Dialect::Mssql,
        Dialect::Oracle,
        Dialect::Odbc,
        Dialect::Snowflake,
        Dialect::Bigquery,
    ];

    /// The key in file names (`x.postgres.sql`) and messages.
    pub fn key(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
            Dialect::Mysql => "mysql",
            Dialect::Mssql => "mssql",
            Dialect::Oracle => "oracle",
            Dialect::Odbc => "odbc",
            Dialect::Snowflake => "snowflake",
            Dialect::Bigquery => "bigquery",
        }
    }

    pub fn from_key(key: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.key() == key)
    }

    /// The family of a URL scheme (`postgresql` is `postgres`, `mariadb` is `mysql`).
    pub fn of_scheme(scheme: &str) -> Option<Dialect> {
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "sqlite" => Some(Dialect::Sqlite),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            "mssql" | "sqlserver" => Some(Dialect::Mssql),
            "oracle" => Some(Dialect::Oracle),
            "odbc" => Some(Dialect::Odbc),
            "snowflake" => Some(Dialect::Snowflake),
            "bigquery" => Some(Dialect::Bigquery),
            _ => None,
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl Connection {
    /// The connection's SQL dialect, from the schemes its connector opens (None for a
    /// connector that speaks none of these).
    pub fn dialect(&self) -> Option<Dialect> {
        self.connector
            .schemes
            .iter()
            .find_map(|s| Dialect::of_scheme(s))
    }
}

/// Splits `x.postgres` into `x` and its dialect; a name without a dialect suffix is portable.
pub fn dialect_suffix(stem: &str) -> (&str, Option<Dialect>) {
    if let Some((base, key)) = stem.rsplit_once('.') {
        if let Some(d) = Dialect::from_key(key) {
            return (base, Some(d));
        }
    }
    (stem, None)
}

/// The file of `base` (`sql/x.sql`) for `dialect`: `sql/x.postgres.sql` when it exists, else
/// `sql/x.sql`. When neither exists but another dialect's variant does, the error names it.
pub fn file_for(base: &Path, dialect: Option<Dialect>) -> Result<PathBuf, String> {
    let name = base
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let Some(stem) = name.strip_suffix(".sql") else {
        return Ok(base.to_path_buf());
    };
    if dialect_suffix(stem).1.is_some() {
        // Named with its dialect already: taken as given.
        return Ok(base.to_path_buf());
    }
    let variant = |d: Dialect| base.with_file_name(format!("{stem}.{}.sql", d.key()));
    if let Some(d) = dialect {
        let own = variant(d);
        if own.is_file() {
            return Ok(own);
        }
    }
    if base.is_file() {
        return Ok(base.to_path_buf());
    }
    let others: Vec<String> = Dialect::ALL
        .into_iter()
        .filter(|d| Some(*d) != dialect && variant(*d).is_file())
        .map(|d| variant(d).display().to_string())
        .collect();
    if others.is_empty() {
        Ok(base.to_path_buf())
    } else {
        Err(format!(
            "{} does not exist and there is no {} variant; only {} exists, which is for another \
             dialect: add {} (or a portable {})",
            base.display(),
            dialect.map(|d| d.key()).unwrap_or("matching"),
            others.join(", "),
            dialect
                .map(|d| variant(d).display().to_string())
                .unwrap_or_else(|| base.display().to_string()),
            base.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connector_has_a_dialect_named_by_its_scheme_family() {
        for c in crate::connectors::registry::CONNECTORS {
            // SOQL is queried, never run from files: Salesforce has no SQL role.
            for s in c.schemes.iter().filter(|s| **s != "salesforce") {
                assert!(Dialect::of_scheme(s).is_some(), "scheme {s} has no dialect");
            }
        }
        assert_eq!(Dialect::of_scheme("postgresql"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_key("sqlite"), Some(Dialect::Sqlite));
    }

    #[test]
    fn only_another_dialects_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.postgres.sql"), "SELECT 1;").unwrap();
        let e = file_for(&dir.path().join("x.sql"), Some(Dialect::Sqlite)).unwrap_err();
        assert!(e.contains("x.postgres.sql"), "{e}");
        let pg = file_for(&dir.path().join("x.sql"), Some(Dialect::Postgres)).unwrap();
        assert!(pg.ends_with("x.postgres.sql"));
    }
}
