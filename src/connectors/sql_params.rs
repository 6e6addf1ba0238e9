//! Named parameters (`:name`) in SQL text, for databases whose protocol only knows positional
//! ones (PostgreSQL's `$1`). A small lexer finds the parameters outside string literals, quoted
//! identifiers, dollar-quoted bodies and comments, and leaves `::` casts alone; the same lexer
//! splits a script into statements. Values are bound by the caller, never formatted in.

/// SQL with `:name` replaced by `$1, $2, ...`; `names[i]` is the parameter of `$(i+1)`. A name
/// used twice gets the same number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub sql: String,
    pub names: Vec<String>,
}

/// What the lexer found at a position.
enum Token {
    /// `:name` spanning `start..end`.
    Param { start: usize, end: usize },
    /// A `;` ending a statement.
    Semicolon(usize),
    /// `$1`: a positional parameter written by hand.
    Positional(usize),
}

/// Lexical rules that differ between SQL dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    /// PostgreSQL (and SQLite): `E'..'` escapes, `"ident"`, `$tag$` bodies.
    Postgres,
    /// MySQL/MariaDB: backslash escapes in '..' and ".." strings, `ident` in backticks,
    /// `#` line comments, no dollar quoting.
    MySql,
}

/// Walks the SQL, calling `f` for each token outside literals and comments.
fn scan(sql: &str, f: impl FnMut(Token)) -> Result<(), String> {
    scan_dialect(sql, Dialect::Postgres, f)
}

fn scan_dialect(sql: &str, dialect: Dialect, mut f: impl FnMut(Token)) -> Result<(), String> {
    let b = sql.as_bytes();
    let mut i = 0;
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let mysql = dialect == Dialect::MySql;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') if mysql => {
                i = skip_quoted(b, i, q, true)
                    .ok_or_else(|| unterminated(sql, i, "string literal"))?;
            }
            b'`' if mysql => {
                i = skip_quoted(b, i, b'`', false)
                    .ok_or_else(|| unterminated(sql, i, "quoted identifier"))?
            }
            b'#' if mysql => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1);
            }
            b'$' if mysql => i += 1,
            b'\'' => {
                // E'...' strings take backslash escapes; standard ones only double the quote.
                let escapes =
                    i > 0 && matches!(b[i - 1], b'e' | b'E') && (i < 2 || !is_ident(b[i - 2]));
                i = skip_quoted(b, i, b'\'', escapes)
                    .ok_or_else(|| unterminated(sql, i, "string literal"))?;
            }
            b'"' => {
                i = skip_quoted(b, i, b'"', false)
                    .ok_or_else(|| unterminated(sql, i, "quoted identifier"))?
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i).ok_or_else(|| unterminated(sql, i, "comment"))?
            }
            b'$' => {
                if i > 0 && is_ident(b[i - 1]) {
                    // `a$b` is part of an identifier.
                    i += 1;
                } else if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    f(Token::Positional(i));
                    i += 1;
                } else if let Some(tag_end) = dollar_tag(b, i) {
                    let tag = &b[i..=tag_end];
                    let body = tag_end + 1;
                    let close = memchr::memmem::find(&b[body..], tag)
                        .ok_or_else(|| unterminated(sql, i, "dollar-quoted string"))?;
                    i = body + close + tag.len();
                } else {
                    i += 1;
                }
            }
            b':' => {
                // `::` casts and `:=` named arguments.
                if matches!(b.get(i + 1), Some(b':' | b'=')) {
                    i += 2;
                } else if b
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                    && !(i > 0 && is_ident(b[i - 1]))
                {
                    let start = i;
                    i += 1;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                    f(Token::Param { start, end: i });
                } else {
                    i += 1;
                }
            }
            b';' => {
                f(Token::Semicolon(i));
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Index just past the closing quote; a doubled quote is an escaped one.
fn skip_quoted(b: &[u8], open: usize, quote: u8, backslash: bool) -> Option<usize> {
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if backslash => i += 2,
            c if c == quote => {
                if b.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// PostgreSQL block comments nest.
fn skip_block_comment(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = open;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// The end of a `$tag$` opener at `start` (the closing `$`), if there is one.
fn dollar_tag(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'$' => return Some(i),
            c if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 => i += 1,
            _ => return None,
        }
    }
    None
}

fn unterminated(sql: &str, at: usize, what: &str) -> String {
    let line = sql[..at].matches('\n').count() + 1;
    format!("unterminated {what} starting on line {line}")
}

/// Replaces `:name` parameters by `$n`. Hand-written `$1` parameters are refused: mixing both
/// styles would bind values to the wrong places.
pub fn rewrite(sql: &str) -> Result<Rewritten, String> {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut names: Vec<String> = Vec::new();
    let mut last = 0;
    let mut positional = None;
    scan(sql, |t| match t {
        Token::Param { start, end } => {
            let name = &sql[start + 1..end];
            let n = match names.iter().position(|x| x == name) {
                Some(i) => i + 1,
                None => {
                    names.push(name.to_string());
                    names.len()
                }
            };
            out.push_str(&sql[last..start]);
            out.push('$');
            out.push_str(&n.to_string());
            last = end;
        }
        Token::Positional(at) => positional = positional.or(Some(at)),
        Token::Semicolon(_) => {}
    })?;
    if let Some(at) = positional {
        let line = sql[..at].matches('\n').count() + 1;
        return Err(format!(
            "positional parameter on line {line} ('$1' style): use named parameters (:name) and pass them in a map"
        ));
    }
    out.push_str(&sql[last..]);
    Ok(Rewritten { sql: out, names })
}

/// MySQL/MariaDB: `:name` parameters replaced by `?`, one name per placeholder in order (a
/// name used twice is bound twice). Hand-written `?` placeholders are left alone but refused
/// by the caller when it finds more placeholders than names.
pub fn rewrite_mysql(sql: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(sql.len());
    let mut names = Vec::new();
    let mut last = 0;
    scan_dialect(sql, Dialect::MySql, |t| {
        if let Token::Param { start, end } = t {
            names.push(sql[start + 1..end].to_string());
            out.push_str(&sql[last..start]);
            out.push('?');
            last = end;
        }
    })?;
    out.push_str(&sql[last..]);
    Ok((out, names))
}

/// Standard SQL for positional-only protocols (ODBC's `?`, SQL Server's `@P1`): each `:name`
/// replaced by `mark(n)` for its 1-based position; `names[n-1]` is the parameter there (a
/// name used twice is bound twice).
pub fn rewrite_positional(
    sql: &str,
    mark: impl Fn(usize) -> String,
) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(sql.len());
    let mut names = Vec::new();
    let mut last = 0;
    scan(sql, |t| {
        if let Token::Param { start, end } = t {
            names.push(sql[start + 1..end].to_string());
            out.push_str(&sql[last..start]);
            out.push_str(&mark(names.len()));
            last = end;
        }
    })?;
    out.push_str(&sql[last..]);
    Ok((out, names))
}

/// `split_statements` with MySQL's lexical rules (backslash escapes, backticks, `#` comments).
pub fn split_statements_mysql(sql: &str) -> Result<Vec<&str>, String> {
    let mut cuts = Vec::new();
    scan_dialect(sql, Dialect::MySql, |t| {
        if let Token::Semicolon(i) = t {
            cuts.push(i);
        }
    })?;
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts.into_iter().chain(std::iter::once(sql.len())) {
        let stmt = sql[start..end].trim();
        if has_code(stmt) {
            out.push(stmt);
        }
        start = end + 1;
    }
    Ok(out)
}

/// The distinct parameter names of the SQL, in order of first use.
pub fn param_names(sql: &str) -> Result<Vec<String>, String> {
    Ok(rewrite(sql)?.names)
}

/// Splits a script into statements at `;` outside literals and comments. Empty statements
/// (and comment-only ones) are dropped.
pub fn split_statements(sql: &str) -> Result<Vec<&str>, String> {
    let mut cuts = Vec::new();
    scan(sql, |t| {
        if let Token::Semicolon(i) = t {
            cuts.push(i);
        }
    })?;
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts.into_iter().chain(std::iter::once(sql.len())) {
        let stmt = sql[start..end].trim();
        if has_code(stmt) {
            out.push(stmt);
        }
        start = end + 1;
    }
    Ok(out)
}

/// Whether anything but whitespace and comments is left.
/// `sql` with every `:name` parameter replaced by `text` (a quoted table name, say); other
/// parameters, and `:name` inside strings or comments, stay as they are.
pub fn replace_param(sql: &str, name: &str, text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len() + text.len());
    let mut last = 0;
    scan(sql, |t| {
        if let Token::Param { start, end } = t {
            if &sql[start + 1..end] == name {
                out.push_str(&sql[last..start]);
                out.push_str(text);
                last = end;
            }
        }
    })?;
    out.push_str(&sql[last..]);
    Ok(out)
}

/// The first keyword of a statement, past comments and opening parentheses.
/// Snowflake and BigQuery, which have no read-only transactions, check read-only queries by
/// it before asking the server.
pub fn first_keyword(sql: &str) -> String {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest
                .split_once('\n')
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest
                .split_once("*/")
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else if let Some(rest) = s.strip_prefix('(') {
            s = rest.trim_start();
        } else {
            break;
        }
    }
    s.chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The one statement of a query source (`conn.sql(..)`), from its split text.
pub fn one_statement(parts: Vec<&str>) -> Result<String, String> {
    match parts.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err("the query is empty".into()),
        _ => Err(format!(
            "a query source is one statement; this text has {}",
            parts.len()
        )),
    }
}

/// "parameter :x has no value (given: a, b)": a parameter the SQL names but the script's map
/// lacks.
pub fn missing(name: &str, given: &[(String, crate::data::Value)]) -> String {
    let given: Vec<&str> = given.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "parameter {name} has no value (given: {})",
        if given.is_empty() {
            "none".to_string()
        } else {
            given.join(", ")
        }
    )
}

fn has_code(stmt: &str) -> bool {
    let b = stmt.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if b[i] == b'-' && b.get(i + 1) == Some(&b'-') {
            i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1);
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            match skip_block_comment(b, i) {
                Some(end) => i = end,
                None => return true,
            }
        } else {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(sql: &str) -> (String, Vec<String>) {
        let r = rewrite(sql).unwrap();
        (r.sql, r.names)
    }

    #[test]
    fn numbers_named_parameters_and_reuses_them() {
        assert_eq!(
            rw("SELECT * FROM t WHERE a >= :since AND a < :until OR b = :since"),
            (
                "SELECT * FROM t WHERE a >= $1 AND a < $2 OR b = $1".into(),
                vec!["since".into(), "until".into()]
            )
        );
        assert_eq!(
            rw("SELECT :a,:b_2"),
            ("SELECT $1,$2".into(), vec!["a".into(), "b_2".into()])
        );
        assert_eq!(rw("VALUES (:x)").0, "VALUES ($1)");
    }

    #[test]
    fn leaves_literals_comments_and_casts_alone() {
        let sql =
            "SELECT ':no', \"col:no\", E'it\\'s :no', 'it''s :no', $$ :no $$, $fn$ :no $x$ $fn$, \
                   x::int, y::timestamp(0) -- :no\n/* :no /* nested :no */ :no */ :yes, a := 1";
        let (out, names) = rw(sql);
        assert_eq!(names, vec!["yes".to_string()]);
        assert!(
            out.contains("x::int") && out.contains("$1") && out.contains("a := 1"),
            "{out}"
        );
        assert_eq!(out.replace("$1", ":yes"), sql);
    }

    #[test]
    fn refuses_positional_and_unterminated() {
        assert!(rewrite("SELECT $1")
            .unwrap_err()
            .contains("positional parameter on line 1"));
        assert!(rewrite("SELECT a$1 FROM t").is_ok());
        assert!(rewrite("SELECT 'open")
            .unwrap_err()
            .contains("unterminated string literal"));
        assert!(rewrite("SELECT $tag$ open")
            .unwrap_err()
            .contains("dollar-quoted"));
        assert!(rewrite("SELECT 1 /* open").unwrap_err().contains("comment"));
    }

    #[test]
    fn array_slices_are_not_parameters() {
        assert_eq!(rw("SELECT a[1:2], b[:n]").1, vec!["n".to_string()]);
    }

    #[test]
    fn splits_statements_outside_literals() {
        let sql = "CREATE TABLE t (a text);\n-- comment; only\nINSERT INTO t VALUES (';'), ($$;$$);\n\
                   CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n/* trailing; */\n";
        let parts = split_statements(sql).unwrap();
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert!(parts[1].ends_with("($$;$$)"));
        assert!(parts[2].contains("SELECT 1; $body$"));
    }
}
