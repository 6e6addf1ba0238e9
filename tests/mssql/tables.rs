//! The canned data behind the test server: `dbo.types` (one column per type tested, three
//! rows: edge values, all NULL, empty and small values) and `dbo.orders` (generated rows, as
//! many as the test asks for), and which answer a statement gets. Statements are matched by
//! pattern (brackets dropped, lower case): sp_describe_first_result_set answers with the
//! described statement's columns, a SELECT with the rows (its select list picked out; a
//! `CAST(col AS decimal(19,4))` answered as SQL Server would, as decimal(19,4)), a window on
//! dbo.orders filtered by the bound @P parameters, never by text.

use chrono::{NaiveDate, NaiveDateTime};

use crate::server::Reply;
use crate::tds::wire::{days, dt2, from_naive, time_inc, to_naive};
use crate::tds::{Param, Ty, Val};

pub const ORDERS_AT_START: usize = 10_000;

/// The nvarchar(max) value: 5,001 UTF-16 units in two PLP chunks of 3,000 bytes and a third,
/// with a surrogate pair (an emoji) cut by the first chunk boundary.
pub fn long_text() -> String {
    format!("{}😀{}", "é".repeat(1499), "z".repeat(3500))
}

/// The varchar(max) value: 12,000 code page 1252 bytes, four PLP chunks.
pub fn long_latin1() -> String {
    "naïve ".repeat(2000)
}

/// The varbinary(max) value: 7,000 bytes, three PLP chunks.
pub fn long_bytes() -> Vec<u8> {
    (0..7000u32).map(|i| (i % 251) as u8).collect()
}

/// (name, system_type_name, TDS type) of dbo.types.
pub fn types_columns() -> Vec<(&'static str, &'static str, Ty)> {
    vec![
        ("id", "int", Ty::Int4),
        ("ti", "tinyint", Ty::IntN(1)),
        ("si", "smallint", Ty::IntN(2)),
        ("bi", "bigint", Ty::IntN(8)),
        ("flag", "bit", Ty::BitN),
        ("d38", "decimal(38,10)", Ty::Decimal(38, 10)),
        ("num", "numeric(12,2)", Ty::Numeric(12, 2)),
        ("m", "money", Ty::MoneyN(8)),
        ("sm", "smallmoney", Ty::MoneyN(4)),
        ("dt2", "datetime2(7)", Ty::DateTime2(7)),
        ("dt3", "datetime2(3)", Ty::DateTime2(3)),
        ("dto", "datetimeoffset(7)", Ty::Dto(7)),
        ("d", "date", Ty::Date),
        ("t", "time(7)", Ty::Time(7)),
        ("dt", "datetime", Ty::DateTimeN),
        ("u", "uniqueidentifier", Ty::Guid),
        ("nv", "nvarchar(40)", Ty::NVarChar(40)),
        ("nvm", "nvarchar(max)", Ty::NVarCharMax),
        ("vc", "varchar(20)", Ty::VarChar(20)),
        ("vb", "varbinary(16)", Ty::VarBinary(16)),
        ("f", "float", Ty::FloatN(8)),
        ("r", "real", Ty::FloatN(4)),
        ("sdt", "smalldatetime", Ty::SmallDateTimeN),
        ("nc", "nchar(5)", Ty::NChar(5)),
        ("c", "char(5)", Ty::Char(5)),
        ("bin", "binary(4)", Ty::Binary(4)),
        ("vcm", "varchar(max)", Ty::VarCharMax),
        ("vbm", "varbinary(max)", Ty::VarBinaryMax),
        ("x", "xml", Ty::Xml),
        // rowversion: its system_type_name is timestamp; binary(8) on the wire.
        ("rv", "timestamp", Ty::Binary(8)),
        // json (SQL Server 2025) reaches a client that does not negotiate it as nvarchar(max).
        ("js", "json", Ty::NVarCharMax),
        ("tx", "text", Ty::Text),
        ("ntx", "ntext", Ty::NText),
        ("img", "image", Ty::Image),
    ]
}

fn d2(s: &str, scale: u8) -> Val {
    let (d, t) = dt2(s, scale);
    Val::DateTime2(d, t)
}

/// datetime: days since 1900-01-01 and 1/300 s ticks.
fn datetime(date: &str, secs: u32, ticks: u32) -> Val {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    let base = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
    Val::DateTime((d - base).num_days() as i32, secs * 300 + ticks)
}

/// smalldatetime: days since 1900-01-01 and minutes since midnight.
fn smalldatetime(date: &str, minutes: u32) -> Val {
    match datetime(date, 0, 0) {
        Val::DateTime(d, _) => Val::DateTime(d, minutes),
        _ => unreachable!(),
    }
}

fn date(s: &str) -> Val {
    Val::Date(days(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()))
}

pub fn types_rows() -> Vec<Vec<Val>> {
    let uuid = |s: &str| Val::Guid(uuid::Uuid::parse_str(s).unwrap());
    let (dto1_d, dto1_t) = dt2("2024-03-01 08:00:00.1234560", 7); // 10:00 +02:00
    let (dto3_d, dto3_t) = dt2("2024-03-02 04:30:00", 7); // 23:30 -05:00 the day before
    let row2 = {
        let mut r = vec![Val::Int(2)];
        r.resize(types_columns().len(), Val::Null);
        // A rowversion is never NULL.
        let rv = types_columns().iter().position(|c| c.0 == "rv").unwrap();
        r[rv] = Val::Bytes(vec![0, 0, 0, 0, 0, 0, 0x07, 0xD2]);
        r
    };
    vec![
        vec![
            Val::Int(1),
            Val::Int(255),
            Val::Int(-32768),
            Val::Int(i64::MAX),
            Val::Bit(true),
            Val::Dec(12345678901234567890123456789012345678),
            Val::Dec(-123456789012),
            Val::Money(i64::MAX),
            Val::Money(i64::from(i32::MIN)),
            d2("2024-02-29 23:59:59.1234567", 7),
            d2("1999-12-31 12:00:00.123", 3),
            Val::Dto(dto1_d, dto1_t, 120),
            date("9999-12-31"),
            Val::Time(time_inc("23:59:59.9999999", 7)),
            datetime("2024-01-01", 0, 1),
            uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
            Val::Text("Grüße – ✓ 日本".into()),
            Val::Text(long_text()),
            Val::Text("café".into()),
            Val::Bytes(vec![0xDE, 0xAD, 0xBE, 0xEF]),
            Val::Float(0.1),
            Val::Float(1.5),
            smalldatetime("2079-06-06", 23 * 60 + 59), // its last day, 23:59
            Val::Text("ab   ".into()),
            Val::Text("ü    ".into()),
            Val::Bytes(vec![0, 1, 0, 0]),
            Val::Text(long_latin1()),
            Val::Bytes(long_bytes()),
            Val::Text("<a b=\"1\">ü</a>".into()),
            Val::Bytes(vec![0, 0, 0, 0, 0, 0, 0x07, 0xD1]),
            Val::Text("{\"a\":[1,2.50]}".into()),
            Val::Text("legacy ü".into()),
            Val::Text("ntext ✓".into()),
            Val::Bytes(vec![1, 2, 3]),
        ],
        row2,
        vec![
            Val::Int(3),
            Val::Int(0),
            Val::Int(0),
            Val::Int(i64::MIN),
            Val::Bit(false),
            Val::Dec(-1),
            Val::Dec(0),
            Val::Money(-1),
            Val::Money(1),
            d2("0001-01-01 00:00:00.0000010", 7),
            d2("2024-06-30 23:59:59.999", 3),
            Val::Dto(dto3_d, dto3_t, -300),
            date("0001-01-01"),
            Val::Time(0),
            datetime("1900-01-01", 86399, 299),
            uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            Val::Text(String::new()),
            Val::Text(String::new()),
            Val::Text(String::new()),
            Val::Bytes(Vec::new()),
            Val::Float(1e300),
            Val::Float(-0.25),
            smalldatetime("1900-01-01", 0),
            Val::Text("     ".into()),
            Val::Text("     ".into()),
            Val::Bytes(vec![0, 0, 0, 0]),
            Val::Text(String::new()),
            Val::Bytes(Vec::new()),
            Val::Text(String::new()),
            Val::Bytes(vec![0, 0, 0, 0, 0, 0, 0x07, 0xD3]),
            Val::Text("[]".into()),
            Val::Text(String::new()),
            Val::Text(String::new()),
            Val::Bytes(Vec::new()),
        ],
    ]
}

pub fn orders_columns() -> Vec<(&'static str, &'static str, Ty)> {
    vec![
        ("id", "int", Ty::Int4),
        ("amount", "decimal(12,2)", Ty::Decimal(12, 2)),
        ("updated_at", "datetime2(3)", Ty::DateTime2(3)),
    ]
}

/// Order i: 1.25 × i, updated 2024-01-01 plus i minutes and i mod 1000 milliseconds.
pub fn order_time(i: usize) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + chrono::Duration::minutes(i as i64)
        + chrono::Duration::milliseconds((i % 1000) as i64)
}

fn order_row(i: usize) -> Vec<Val> {
    let (d, t) = from_naive(order_time(i), 3);
    vec![
        Val::Int(i as i64),
        Val::Dec(i as i128 * 125),
        Val::DateTime2(d, t),
    ]
}

/// A bound datetime2 parameter as a chrono value.
pub fn param_time(p: &Param) -> Option<NaiveDateTime> {
    match p.val {
        Val::DateTime2(d, t) => Some(to_naive(d, t, p.scale)),
        _ => None,
    }
}

fn normalize(sql: &str) -> String {
    sql.replace(['[', ']'], "").to_ascii_lowercase()
}

/// The select list's columns of `table`: (name, TDS type, index in the table). `*` is all; a
/// `CAST(x AS decimal(19,4)) AS x` is x as decimal(19,4).
fn select_list(
    sql: &str,
    table: &[(&'static str, &'static str, Ty)],
) -> Result<Vec<(String, Ty, usize)>, String> {
    let start = sql.find("select ").ok_or("no SELECT")? + 7;
    let end = sql.find(" from ").ok_or("no FROM")?;
    let mut list = sql[start..end].trim();
    if let Some(rest) = list.strip_prefix("top (") {
        list = rest.split_once(')').ok_or("TOP")?.1.trim();
    }
    if list == "*" {
        return Ok(table
            .iter()
            .enumerate()
            .map(|(i, (n, _, t))| (n.to_string(), *t, i))
            .collect());
    }
    let mut out = Vec::new();
    // Split on commas outside parentheses.
    let (mut depth, mut from) = (0, 0);
    let mut items = Vec::new();
    for (i, ch) in list.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&list[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[from..]);
    for item in items {
        let item = item.trim();
        let (name, cast) = match item.rsplit_once(" as ") {
            Some((expr, alias)) if expr.starts_with("cast(") => {
                if !expr.ends_with("as decimal(19,4))") {
                    return Err(format!("unexpected cast {expr}"));
                }
                (alias.trim(), Some(Ty::Decimal(19, 4)))
            }
            _ => (item, None),
        };
        let i = table
            .iter()
            .position(|(n, _, _)| *n == name)
            .ok_or_else(|| format!("Invalid column name '{name}'."))?;
        out.push((name.to_string(), cast.unwrap_or(table[i].2), i));
    }
    Ok(out)
}

fn top(sql: &str) -> Option<usize> {
    let at = sql.find("top (")? + 5;
    sql[at..].split_once(')')?.0.trim().parse().ok()
}

/// The rows of a SELECT on a canned table.
fn select(sql: &str, params: &[Param], orders: usize) -> Reply {
    let (table, rows): (_, Vec<Vec<Val>>) = if sql.contains(" from dbo.types") {
        (types_columns(), types_rows())
    } else if sql.contains(" from dbo.orders") {
        // The window: @P1 the lower bound, @P2 the upper one, as bound.
        let since = params.first().and_then(param_time);
        let until = params.get(1).and_then(param_time);
        let strict = sql.contains("updated_at > @p1");
        let rows = (1..=orders)
            .filter(|i| {
                let t = order_time(*i);
                since.is_none_or(|s| if strict { t > s } else { t >= s })
                    && until.is_none_or(|u| t < u)
            })
            .map(order_row)
            .collect();
        (orders_columns(), rows)
    } else {
        let name = sql.split(" from ").nth(1).unwrap_or("").split(' ').next();
        return Reply::Error(
            208,
            format!("Invalid object name '{}'.", name.unwrap_or("")),
        );
    };
    let list = match select_list(sql, &table) {
        Ok(l) => l,
        Err(e) => return Reply::Error(207, e),
    };
    let limit = top(sql).unwrap_or(usize::MAX);
    Reply::Rows {
        cols: list.iter().map(|(n, t, _)| (n.clone(), *t)).collect(),
        rows: rows
            .into_iter()
            .take(limit)
            .map(|r| {
                list.iter()
                    .map(|(_, ty, i)| match (ty, &r[*i]) {
                        // The cast: money's ten-thousandths are decimal(19,4)'s digits.
                        (Ty::Decimal(19, 4), Val::Money(m)) => Val::Dec(i128::from(*m)),
                        (_, v) => v.clone(),
                    })
                    .collect()
            })
            .collect(),
    }
}

/// The INFORMATION_SCHEMA queries of `conn.tables()`, `columns(t)` and `primary_key(t)`:
/// (name or NULL for an unnamed expression, system_type_name) of their result.
fn catalog_columns(target: &str) -> Option<Vec<(Option<&'static str>, &'static str)>> {
    if target.starts_with("select table_name from information_schema.tables") {
        Some(vec![(Some("TABLE_NAME"), "nvarchar(128)")])
    } else if target.starts_with("select column_name, data_type") {
        Some(vec![
            (Some("COLUMN_NAME"), "nvarchar(128)"),
            (None, "nvarchar(149)"),
            (None, "int"),
        ])
    } else if target.starts_with("select k.column_name from information_schema.table_constraints") {
        Some(vec![(Some("COLUMN_NAME"), "nvarchar(128)")])
    } else {
        None
    }
}

/// The catalog's answer, from the bound names (the login's default schema is dbo).
fn catalog(target: &str, params: &[Param]) -> Reply {
    let text = |i: usize| match params.get(i).map(|p| &p.val) {
        Some(Val::Text(s)) => s.to_ascii_lowercase(),
        _ => String::new(),
    };
    let in_schema = target.contains("table_schema = @p");
    let cols = catalog_columns(target).unwrap_or_default();
    let meta = |cols: &[(Option<&str>, &str)]| -> Vec<(String, Ty)> {
        cols.iter()
            .map(|(n, t)| {
                let ty = if *t == "int" {
                    Ty::IntN(4)
                } else {
                    Ty::NVarChar(149)
                };
                (n.unwrap_or("").to_string(), ty)
            })
            .collect()
    };
    let rows: Vec<Vec<Val>> = if target.starts_with("select table_name") {
        let schema = if in_schema { text(0) } else { "dbo".into() };
        if schema == "dbo" {
            vec![
                vec![Val::Text("orders".into())],
                vec![Val::Text("types".into())],
            ]
        } else {
            Vec::new()
        }
    } else if target.starts_with("select column_name") {
        let (schema, table) = if in_schema {
            (text(0), text(1))
        } else {
            ("dbo".into(), text(0))
        };
        let columns = match (schema.as_str(), table.as_str()) {
            ("dbo", "orders") => orders_columns(),
            ("dbo", "types") => types_columns(),
            _ => Vec::new(),
        };
        columns
            .iter()
            .map(|(n, declared, _)| {
                vec![
                    Val::Text(n.to_string()),
                    Val::Text(declared.to_string()),
                    Val::Int(i64::from(*n != "id")),
                ]
            })
            .collect()
    } else {
        let (table, schema) = (text(0), if in_schema { text(1) } else { "dbo".into() });
        if (schema.as_str(), table.as_str()) == ("dbo", "orders") {
            vec![vec![Val::Text("id".into())]]
        } else {
            Vec::new()
        }
    };
    Reply::Rows {
        cols: meta(&cols),
        rows,
    }
}

/// sp_describe_first_result_set's columns that the connector reads, for each described one.
fn describe(target: &str) -> Reply {
    if let Some(cols) = catalog_columns(target) {
        return describe_rows(
            cols.iter()
                .map(|(n, t)| (n.map(str::to_string), t.to_string()))
                .collect(),
        );
    }
    if !target.starts_with("select ") {
        // What SQL Server describes for a statement without a result: nothing.
        return describe_rows(Vec::new());
    }
    let table = if target.contains(" from dbo.types") {
        types_columns()
    } else if target.contains(" from dbo.orders") {
        orders_columns()
    } else {
        let name = target
            .split(" from ")
            .nth(1)
            .unwrap_or("")
            .split(' ')
            .next();
        return Reply::Error(
            208,
            format!("Invalid object name '{}'.", name.unwrap_or("")),
        );
    };
    let list = match select_list(target, &table) {
        Ok(l) => l,
        Err(e) => return Reply::Error(207, e),
    };
    describe_rows(
        list.iter()
            .map(|(name, ty, i)| {
                let declared = match ty {
                    Ty::Decimal(19, 4) if table[*i].1.contains("money") => "decimal(19,4)",
                    _ => table[*i].1,
                };
                (Some(name.clone()), declared.to_string())
            })
            .collect(),
    )
}

/// sp_describe_first_result_set's rows: one per column, its name NULL for an unnamed
/// expression (as SQL Server sends it).
fn describe_rows(cols: Vec<(Option<String>, String)>) -> Reply {
    Reply::Rows {
        cols: vec![
            ("is_hidden".into(), Ty::BitN),
            ("column_ordinal".into(), Ty::Int4),
            ("name".into(), Ty::NVarChar(128)),
            ("is_nullable".into(), Ty::BitN),
            ("system_type_name".into(), Ty::NVarChar(256)),
        ],
        rows: cols
            .into_iter()
            .enumerate()
            .map(|(k, (name, declared))| {
                let nullable = Val::Bit(name.as_deref() != Some("id"));
                vec![
                    Val::Bit(false),
                    Val::Int(k as i64 + 1),
                    name.map(Val::Text).unwrap_or(Val::Null),
                    nullable,
                    Val::Text(declared),
                ]
            })
            .collect(),
    }
}

/// The answer to one statement (sp_executesql's @stmt, or a batch's text).
pub fn respond(sql: &str, params: &[Param], orders: usize) -> Reply {
    let n = normalize(sql);
    if n.starts_with("exec sp_describe_first_result_set") {
        return match params.first().map(|p| &p.val) {
            Some(Val::Text(target)) => describe(&normalize(target)),
            _ => Reply::Error(8144, "@tsql is missing".into()),
        };
    }
    if n.starts_with("waitfor delay") {
        return Reply::Stall(20);
    }
    if n.starts_with("begin tran") {
        return Reply::Begin;
    }
    if n.contains("rollback tran") {
        return Reply::Rollback;
    }
    if n.starts_with("commit") {
        return Reply::Commit;
    }
    if catalog_columns(&n).is_some() {
        return catalog(&n, params);
    }
    if n.starts_with("select ") {
        return select(&n, params, orders);
    }
    if n.starts_with("delete ") || n.starts_with("update ") {
        return Reply::Count(3);
    }
    Reply::Error(102, format!("Incorrect syntax near '{sql}'."))
}
