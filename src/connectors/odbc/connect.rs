//! The ODBC and Oracle connectors' entries in the registry, and opening a connection.
//! Connections are opened per read or statement (ODBC drivers pool them themselves when
//! unixODBC's pooling is on); each is used on one blocking thread.

use std::sync::Arc;

use odbc_api::parameter::InputParameter;
use odbc_api::{ConnectionOptions, IntoParameter};

use super::config::{self, Settings};
use super::source::OdbcRelations;
use super::sql::OdbcSql;
use crate::connectors::registry::{Connector, OpenOptions, Roles};
use crate::connectors::Connection;
use crate::data::Value;
use crate::error::{EtlError, Result};

const ROLES: Roles = Roles {
    source: true,
    sql: true,
    target: false,
    audit: false,
};

pub static CONNECTOR: Connector = Connector {
    name: "ODBC",
    schemes: &["odbc"],
    example: "odbc://DSN",
    roles: ROLES,
    open,
};

pub static ORACLE: Connector = Connector {
    name: "Oracle (ODBC)",
    schemes: &["oracle"],
    example: "oracle://USER@HOST:1521/SERVICE",
    roles: ROLES,
    open: open_oracle,
};

/// What every relation and statement of one connection shares.
pub struct Shared {
    pub name: String,
    pub settings: Settings,
}

fn open(name: &str, url: &str, _opts: &OpenOptions) -> Result<Connection> {
    open_with(name, url, &CONNECTOR)
}

fn open_oracle(name: &str, url: &str, _opts: &OpenOptions) -> Result<Connection> {
    open_with(name, url, &ORACLE)
}

fn open_with(name: &str, url: &str, connector: &'static Connector) -> Result<Connection> {
    let settings =
        config::parse(url).map_err(|e| EtlError::Config(format!("connection '{name}': {e}")))?;
    let shared = Arc::new(Shared {
        name: name.to_string(),
        settings,
    });
    let mut conn = Connection::new(name, connector, shared.settings.display.clone());
    conn.relations = Some(Arc::new(OdbcRelations(shared.clone())));
    conn.catalog = Some(Arc::new(super::catalog::OdbcCatalog {
        shared: shared.clone(),
        kind: connector.name,
    }));
    conn.sql = Some(Arc::new(OdbcSql(shared)));
    Ok(conn)
}

impl Shared {
    /// Opens a connection through the driver manager.
    pub fn connect(&self) -> Result<odbc_api::Connection<'static>> {
        let env = odbc_api::environment().map_err(|e| {
            EtlError::db(
                &self.name,
                format!("cannot set up ODBC (is unixODBC installed?): {e}"),
            )
        })?;
        let mut cs = config::expand(&self.settings.connection_string)
            .map_err(|e| EtlError::db(&self.name, e))?;
        // Ended by `;`: MariaDB Connector/ODBC 3.1.15 read the last attribute past the string's
        // end ("Access denied for user 'rootT\'") when a connection followed another.
        if !cs.trim_end().ends_with(';') {
            cs.push(';');
        }
        env.connect_with_connection_string(&cs, ConnectionOptions::default())
            .map_err(|e| {
                EtlError::db(
                    &self.name,
                    format!(
                        "cannot connect to {}: {e} (check the DSN in odbc.ini or the driver name in odbcinst.ini: `odbcinst -q -d` lists them)",
                        self.settings.display
                    ),
                )
            })
    }

    pub fn err(&self, what: &str, e: impl std::fmt::Display) -> EtlError {
        EtlError::db(&self.name, format!("{what}: {e}"))
    }

    /// Whether the database quotes identifiers with backticks (MySQL and MariaDB).
    pub fn backticks(conn: &odbc_api::Connection<'_>) -> bool {
        conn.database_management_system_name()
            .map(|n| {
                let n = n.to_ascii_lowercase();
                n.contains("mysql") || n.contains("mariadb")
            })
            .unwrap_or(false)
    }
}

/// A parameter value as the driver gets it: integers and floats natively, dates and
/// timestamps as ODBC's date/timestamp structs (UTC for zoned ones), everything else (exact
/// decimals among them) as text.
pub fn param(v: &Value) -> std::result::Result<Box<dyn InputParameter>, String> {
    use chrono::{Datelike, Timelike};
    use odbc_api::parameter::WithDataType;
    use odbc_api::sys::{Date, Timestamp};
    let ts = |t: chrono::NaiveDateTime| Timestamp {
        year: t.year() as i16,
        month: t.month() as u16,
        day: t.day() as u16,
        hour: t.hour() as u16,
        minute: t.minute() as u16,
        second: t.second() as u16,
        fraction: t.nanosecond() % 1_000_000_000,
    };
    Ok(match v {
        Value::Null => Box::new(None::<String>.into_parameter()),
        Value::Bool(b) => Box::new(i64::from(*b)),
        Value::Int16(i) => Box::new(i64::from(*i)),
        Value::Int32(i) => Box::new(i64::from(*i)),
        Value::Int64(i) => Box::new(*i),
        Value::Float32(f) => Box::new(f64::from(*f)),
        Value::Float64(f) => Box::new(*f),
        Value::Date(d) => Box::new(WithDataType {
            value: Date {
                year: d.year() as i16,
                month: d.month() as u16,
                day: d.day() as u16,
            },
            data_type: odbc_api::DataType::Date,
        }),
        Value::Timestamp(t) => Box::new(WithDataType {
            value: ts(*t),
            data_type: odbc_api::DataType::Timestamp { precision: 6 },
        }),
        Value::TimestampTz(t) => Box::new(WithDataType {
            value: ts(t.naive_utc()),
            data_type: odbc_api::DataType::Timestamp { precision: 6 },
        }),
        Value::Bytes(b) => Box::new(b.clone().into_parameter()),
        Value::Array(_) | Value::Interval { .. } => {
            return Err(format!(
                "a {} cannot be bound as an ODBC parameter",
                v.data_type().map(|t| t.to_string()).unwrap_or_default()
            ))
        }
        other => Box::new(other.to_text().unwrap_or_default().into_parameter()),
    })
}
