//! Which SQL a connection speaks, named by its URL scheme family: what picks `x.postgres.sql`
//! over `x.sql` and what migrations check before they run.

use super::Connection;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    Postgres,
    Sqlite,
    Mysql,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::Sqlite, Dialect::Mysql];

    /// The key in file names (`x.postgres.sql`) and messages.
    pub fn key(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
            Dialect::Mysql => "mysql",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connector_has_a_dialect_named_by_its_scheme_family() {
        for c in crate::connectors::registry::CONNECTORS {
            for s in c.schemes {
                assert!(Dialect::of_scheme(s).is_some(), "scheme {s} has no dialect");
            }
        }
        assert_eq!(Dialect::of_scheme("postgresql"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_key("sqlite"), Some(Dialect::Sqlite));
    }
}
