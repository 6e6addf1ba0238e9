//! The SQL Server source through the real binary, against a local server in this folder that
//! speaks MS-TDS (PRELOGIN with or without TLS, LOGIN7, SQL batches, sp_executesql RPCs) from canned
//! responses (`server.rs`, `tables.rs`, the bytes in `tds.rs`), loading into a throwaway
//! PostgreSQL database. This is not SQL Server: it proves tiberius and the connector against
//! the documented protocol (types, values, bound parameters, transactions, login errors), not
//! against a real server's SQL.

#[path = "../common/mod.rs"]
mod common;
mod server;
mod tables;
mod tds;

use common::sandbox::{assert_contains, Sandbox};
use common::{column_types, text, PgTestDb};
use server::{Request, Server, PASSWORD, TOKEN};
use tds::Val;

/// The warehouse on a throwaway PostgreSQL database; the SQL Server URL in ETL_CONN_MS.
fn sandbox(ms_url: &str, db: &PgTestDb) -> Sandbox {
    Sandbox::new("etl-ms-", "ETL_CONN_MS", ms_url).on_postgres(db)
}

const TYPES: &str = r#"
project("ms_types");
let ms = connect("ms");
let dw = connect("warehouse");
task("types", |run| { dw.load(#{ from: ms.table("dbo.types"), into: "raw.types" }); });
task("small_money", |run| {
    dw.load(#{ from: ms.sql("SELECT id, sm FROM dbo.types"), into: "raw.small_money" });
});
"#;

#[test]
fn every_type_of_the_map_arrives_exactly_in_postgresql() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_types");
    let sb = sandbox(&srv.url(PASSWORD), &dw);
    sb.project("ms_types", TYPES);
    let run = sb.exec_with("ms_types", &[], &[]).ok();
    // The 100 ns digits of datetime2(7) row 1 and time(7) row 1 were truncated, with a warning
    // per column; datetimeoffset(7) row 1 ends in 0 and is exact.
    for col in ["dt2", "t"] {
        assert_contains(
            &run.output,
            &format!("column '{col}': 1 value(s) with a 100-nanosecond digit truncated"),
        );
    }
    assert!(!run.output.contains("column 'dto'"), "{}", run.output);

    assert_eq!(
        column_types(&dw, "raw.types"),
        [
            "id integer",
            "ti smallint",
            "si smallint",
            "bi bigint",
            "flag boolean",
            "d38 numeric(38,10)",
            "num numeric(12,2)",
            "m numeric(19,4)",
            "sm numeric(10,4)",
            "dt2 timestamp without time zone",
            "dt3 timestamp without time zone",
            "dto timestamp with time zone",
            "d date",
            "t time without time zone",
            "dt timestamp without time zone",
            "u uuid",
            "nv character varying(40)",
            "nvm text",
            "vc character varying(20)",
            "vb bytea",
            "f double precision",
            "r real",
            "sdt timestamp without time zone",
            "nc character varying(5)",
            "c character varying(5)",
            "bin bytea",
            "vcm text",
            "vbm bytea",
            "x text",
            "rv bytea",
            "js json",
            "tx text",
            "ntx text",
            "img bytea",
        ]
    );
    // nvarchar(max) came in three PLP chunks with a surrogate pair cut by the first boundary.
    let long = tables::long_text();
    let latin1 = tables::long_latin1();
    let bytes: String = tables::long_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        text(
            &dw,
            &format!(
                "SELECT id, ti, si, bi, flag, d38, num, m, sm, dt2, dt3, \
                 to_char(dto AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), d, t, dt, u, \
                 nv, nv IS NULL, nvm = '{long}', length(nvm), vc, vc IS NULL, encode(vb, 'hex'), vb IS NULL, f, \
                 r, sdt, nc, c, encode(bin, 'hex'), vcm = '{latin1}', length(vcm), \
                 encode(vbm, 'hex') = '{bytes}', length(vbm), x, encode(rv, 'hex'), js::text, \
                 tx, tx IS NULL, ntx, ntx IS NULL, encode(img, 'hex'), img IS NULL \
                 FROM raw.types ORDER BY id"
            )
        ),
        [
            "1|255|-32768|9223372036854775807|t|1234567890123456789012345678.9012345678|-1234567890.12|\
             922337203685477.5807|-214748.3648|2024-02-29 23:59:59.123456|1999-12-31 12:00:00.123|\
             2024-03-01 08:00:00.123456|9999-12-31|23:59:59.999999|2024-01-01 00:00:00.003333|\
             6f9619ff-8b86-d011-b42d-00c04fc964ff|Grüße – ✓ 日本|f|t|5000|café|f|deadbeef|f|0.1|\
             1.5|2079-06-06 23:59:00|ab   |ü    |00010000|\
             t|12000|t|7000|<a b=\"1\">ü</a>|00000000000007d1|{\"a\":[1,2.50]}|\
             legacy ü|f|ntext ✓|f|010203|f"
                .to_string(),
            format!(
                "2|{}NULL|t|NULL|NULL|NULL|t|NULL|t|NULL|NULL|NULL|NULL|NULL|NULL|\
                 NULL|NULL|NULL|NULL|NULL|00000000000007d2|NULL|NULL|t|NULL|t|NULL|t",
                "NULL|".repeat(15)
            ),
            "3|0|0|-9223372036854775808|f|-0.0000000001|0.00|-0.0001|0.0001|0001-01-01 00:00:00.000001|\
             2024-06-30 23:59:59.999|2024-03-02 04:30:00.000000|0001-01-01|00:00:00|1900-01-01 23:59:59.996667|\
             a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11||f|f|0||f||f|1e+300|\
             -0.25|1900-01-01 00:00:00|     |     |00000000|\
             f|0|f|0||00000000000007d3|[]||f||f||f"
                .to_string(),
        ]
    );
    // In a sql(..) read money arrives as money (tiberius' float) and is turned back exactly.
    assert_eq!(
        text(&dw, "SELECT id, sm FROM raw.small_money ORDER BY id"),
        ["1|-214748.3648", "2|NULL", "3|0.0001"]
    );

    // What went over the wire: a login in the clear, the table described, then read with
    // money cast on the server; no parameters.
    let reqs = srv.requests();
    assert!(reqs.iter().any(
        |r| matches!(r, Request::Login { user, database, app_name, encryption, token, tls }
        if user == "etl" && database == "erp" && app_name == "etl" && *encryption == Some(2) && token.is_none() && !tls)
    ));
    let stmts = srv.statements();
    assert!(
        stmts.iter().all(|s| s.rpc),
        "every statement went as an RPC: {stmts:?}"
    );
    let described: Vec<_> = stmts
        .iter()
        .filter(|s| s.sql.starts_with("EXEC sp_describe_first_result_set"))
        .map(|s| match &s.params[0].val {
            Val::Text(t) => t.clone(),
            v => panic!("{v:?}"),
        })
        .collect();
    assert!(
        described.contains(&"SELECT * FROM [dbo].[types]".to_string()),
        "{described:?}"
    );
    let read = stmts
        .iter()
        .find(|s| s.sql.starts_with("SELECT [id]"))
        .expect("the table read");
    assert!(
        read.sql
            .contains("CAST([m] AS decimal(19,4)) AS [m], CAST([sm] AS decimal(19,4)) AS [sm]")
            && read.sql.ends_with(" FROM [dbo].[types]"),
        "{}",
        read.sql
    );
    assert!(read.params.is_empty() && read.decl.is_empty(), "{read:?}");
}

#[test]
fn values_the_connector_cannot_hold_fail_the_read_naming_row_and_column() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_refuse");
    // sub_microsecond=fail: datetime2(7) row 1 has a 100 ns digit.
    let sb = sandbox(&format!("{}&sub_microsecond=fail", srv.url(PASSWORD)), &dw);
    sb.project(
        "ms_fail",
        r#"project("ms_fail");
        let ms = connect("ms");
        let dw = connect("warehouse");
        task("t", |run| { dw.load(#{ from: ms.table("dbo.types"), into: "raw.types" }); });"#,
    );
    let run = sb.exec_with("ms_fail", &[], &[]).failed();
    assert_contains(&run.output, "row 1, column 'dt2'");
    assert_contains(&run.output, "100-nanosecond digit");
    // money in a sql(..) read above 2^53 ten-thousandths: refused, naming the cast to add.
    let sb = sandbox(&srv.url(PASSWORD), &dw);
    sb.project(
        "ms_money",
        r#"project("ms_money");
        let ms = connect("ms");
        let dw = connect("warehouse");
        task("t", |run| { dw.load(#{ from: ms.sql("SELECT id, m FROM dbo.types"), into: "raw.money" }); });"#,
    );
    let run = sb.exec_with("ms_money", &[], &[]).failed();
    assert_contains(&run.output, "row 1, column 'm'");
    assert_contains(&run.output, "decimal(19,4)");
    assert_eq!(
        text(
            &dw,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'raw'"
        ),
        ["0"],
        "no table was created by the failed loads"
    );
}

const INCR: &str = r#"
project("ms_incr");
let ms = connect("ms");
let dw = connect("warehouse");
task("table", |run| {
    dw.load(#{ from: ms.table("dbo.orders"), into: "orders", key: ["id"], cursor: "updated_at" })
});
task("sql", |run| {
    dw.load(#{
        from: ms.sql("SELECT id, amount, updated_at FROM dbo.orders WHERE updated_at >= :since AND updated_at < :until"),
        into: "orders_sql",
        key: ["id"],
        cursor: "updated_at",
    })
});
"#;

#[test]
fn incremental_windows_are_bound_as_rpc_parameters() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_incr");
    let sb = sandbox(&srv.url(PASSWORD), &dw);
    sb.project("ms_incr", INCR);
    sb.exec_with("ms_incr", &["--load-type", "F"], &[]).ok();
    for t in ["orders", "orders_sql"] {
        assert_eq!(
            text(
                &dw,
                &format!("SELECT count(*), sum(amount), max(updated_at) FROM public.{t}")
            ),
            ["10000|62506250.00|2024-01-07 22:40:00"],
            "{t}"
        );
    }

    // Five new orders; the incremental run reads from the watermark on.
    srv.orders.store(
        tables::ORDERS_AT_START + 5,
        std::sync::atomic::Ordering::SeqCst,
    );
    srv.clear();
    let plan = sb.exec_with("ms_incr", &["plan", "--load-type", "I"], &[]);
    assert_eq!(plan.code, 0, "{}", plan.output);
    assert_contains(&plan.output, "[updated_at] >= ");
    srv.clear();
    sb.exec_with("ms_incr", &["--load-type", "I"], &[]).ok();
    for t in ["orders", "orders_sql"] {
        assert_eq!(
            text(&dw, &format!("SELECT count(*), max(id) FROM public.{t}")),
            ["10005|10005"],
            "{t}"
        );
    }
    let watermark = tables::order_time(tables::ORDERS_AT_START);
    let stmts = srv.statements();
    let table_read = stmts
        .iter()
        .find(|s| s.sql.starts_with("SELECT [id]"))
        .expect("the table read");
    assert_eq!(
        table_read.sql,
        "SELECT [id], [amount], [updated_at] FROM [dbo].[orders] WHERE ([updated_at] >= @P1 OR [updated_at] IS NULL)"
    );
    assert_eq!(table_read.decl, "@P1 datetime2");
    assert_eq!(table_read.params.len(), 1);
    assert_eq!(table_read.params[0].name, "@P1");
    assert_eq!(
        table_read.params[0].ty, 0x2A,
        "@P1 is a datetime2: {:?}",
        table_read.params
    );
    assert_eq!(tables::param_time(&table_read.params[0]), Some(watermark));

    let sql_read = stmts
        .iter()
        .find(|s| s.sql.starts_with("SELECT id, amount") && !s.params.is_empty())
        .expect("the sql read");
    assert_eq!(
        sql_read.sql,
        "SELECT id, amount, updated_at FROM dbo.orders WHERE updated_at >= @P1 AND updated_at < @P2"
    );
    assert_eq!(sql_read.decl, "@P1 datetime2,@P2 datetime2");
    assert_eq!(tables::param_time(&sql_read.params[0]), Some(watermark));
    // The open upper end: the highest datetime2 the connector binds.
    assert_eq!(
        tables::param_time(&sql_read.params[1]).map(|t| t.to_string()),
        Some("9999-12-31 23:59:59".to_string())
    );
    for s in &stmts {
        assert!(
            !s.sql.contains("2024-"),
            "a bound value was formatted into the text: {}",
            s.sql
        );
    }
    let runs = text(
        &dw,
        "SELECT load_type || ':' || status || ':' || number_of_records FROM etl.etl_runs ORDER BY id",
    );
    assert_eq!(
        runs,
        [
            "F:success:10000",
            "F:success:10000",
            "I:success:6",
            "I:success:6"
        ],
        "the incremental runs read the boundary row and the five new ones"
    );
}

#[test]
fn a_wrong_password_fails_clearly_and_leaves_the_target_as_it_was() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_login");
    let sb = sandbox(&srv.url(PASSWORD), &dw);
    sb.project("ms_types", TYPES);
    sb.exec_with("ms_types", &[], &[]).ok();
    let before = text(&dw, "SELECT x::text FROM raw.types x ORDER BY id");

    let wrong = "Wr0ng-pw-7781";
    let sb = Sandbox {
        env: vec![
            ("ETL_CONN_MS".into(), srv.url(wrong)),
            ("ETL_CONN_WAREHOUSE".into(), dw.url().to_string()),
        ],
        dir: sb.dir,
    };
    let run = sb.exec_with("ms_types", &[], &[]).failed();
    assert_contains(&run.output, "Login failed for user 'etl'");
    assert_contains(&run.output, "cannot connect to etl@127.0.0.1:");
    assert_contains(
        &run.output,
        "Login failed for user 'etl'. (SQL Server error 18456, state 1)",
    );
    assert!(
        !run.output.contains(wrong),
        "the password was printed:\n{}",
        run.output
    );
    assert!(!run.output.contains(PASSWORD), "{}", run.output);
    assert_eq!(
        text(&dw, "SELECT x::text FROM raw.types x ORDER BY id"),
        before
    );
}

#[test]
fn read_only_queries_run_in_a_transaction_that_is_rolled_back() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_ro");
    let sb = sandbox(&srv.url(PASSWORD), &dw);
    sb.project(
        "ms_ro",
        r#"project("ms_ro");
        let ms = connect("ms");
        task("peek", |run| {
            // The canned answer ignores the WHERE: the point is how :low travels.
            let rows = ms.query("SELECT id, nv FROM dbo.types WHERE id >= :low", #{ low: 2 });
            print(`rows: ${rows.len()}`);
        });"#,
    );
    let run = sb.exec_with("ms_ro", &["--dry-run"], &[]).ok();
    assert_contains(&run.output, "rows: 3");
    let stmts = srv.statements();
    let texts: Vec<&str> = stmts.iter().map(|s| s.sql.as_str()).collect();
    assert_eq!(
        texts,
        [
            "EXEC sp_describe_first_result_set @tsql = @P1, @params = @P2, @browse_information_mode = 0",
            "BEGIN TRANSACTION",
            "SELECT id, nv FROM dbo.types WHERE id >= @P1",
            "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION",
        ]
    );
    assert!(
        stmts.iter().all(|s| s.conn == stmts[0].conn),
        "one connection"
    );
    // The query and the rollback carried the descriptor BEGIN TRANSACTION's ENVCHANGE gave.
    assert_eq!(stmts[1].txn, [0; 8]);
    assert_ne!(stmts[2].txn, [0; 8]);
    assert_eq!(stmts[2].txn, stmts[3].txn);
    assert_eq!(stmts[2].params[0].val, Val::Int(2));
}

#[test]
fn execute_binds_parameters_and_run_file_runs_in_one_transaction() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_write");
    let sb = sandbox(&srv.url(PASSWORD), &dw);
    let dir = sb.dir.path().join("projects/ms_write/sql");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("fix.sql"),
        "UPDATE dbo.orders SET amount = 0 WHERE id = :id;\nDELETE FROM dbo.orders WHERE id = :id;\n",
    )
    .expect("sql");
    sb.project(
        "ms_write",
        r#"project("ms_write");
        let ms = connect("ms");
        task("write", |run| {
            let n = ms.execute("UPDATE dbo.orders SET note = :note WHERE id = :id", #{ note: "x'; DROP TABLE t; --", id: 7 });
            print(`execute: ${n}`);
            print(`run_file: ${ms.run_file("sql/fix.sql", #{ id: 7 })}`);
        });"#,
    );
    let run = sb.exec_with("ms_write", &[], &[]).ok();
    assert_contains(&run.output, "execute: 3");
    assert_contains(&run.output, "run_file: 6");
    let stmts = srv.statements();
    let texts: Vec<(bool, &str)> = stmts.iter().map(|s| (s.rpc, s.sql.as_str())).collect();
    assert_eq!(
        texts,
        [
            (true, "UPDATE dbo.orders SET note = @P1 WHERE id = @P2"),
            (false, "BEGIN TRANSACTION"),
            (true, "UPDATE dbo.orders SET amount = 0 WHERE id = @P1"),
            (true, "DELETE FROM dbo.orders WHERE id = @P1"),
            (true, "COMMIT TRANSACTION"),
        ]
    );
    // The text went as a parameter, untouched.
    assert_eq!(
        stmts[0].params[0].val,
        Val::Text("x'; DROP TABLE t; --".into())
    );
    assert_eq!(stmts[0].params[1].val, Val::Int(7));
    assert_eq!(stmts[0].decl, "@P1 nvarchar(4000),@P2 bigint");
    // One connection for the file; every statement after BEGIN carried its descriptor.
    assert!(stmts[1..].iter().all(|s| s.conn == stmts[1].conn));
    assert_eq!(stmts[1].txn, [0; 8]);
    assert!(stmts[2..]
        .iter()
        .all(|s| s.txn != [0; 8] && s.txn == stmts[2].txn));

    // A failing statement: the file stops there and is never committed.
    srv.clear();
    sb.project(
        "ms_bad",
        r#"project("ms_bad");
        let ms = connect("ms");
        task("write", |run| { ms.run_file("bad.sql", #{ id: 7 }); });"#,
    );
    std::fs::write(
        sb.dir.path().join("projects/ms_bad/bad.sql"),
        "UPDATE dbo.orders SET amount = 0 WHERE id = :id;\nBOGUS STATEMENT;\n",
    )
    .expect("sql");
    let run = sb.exec_with("ms_bad", &[], &[]).failed();
    assert_contains(&run.output, "statement 2 (line 2)");
    assert_contains(&run.output, "Incorrect syntax near 'BOGUS STATEMENT'");
    assert_contains(&run.output, "SQL Server error 102");
    let texts: Vec<String> = srv.statements().into_iter().map(|s| s.sql).collect();
    assert!(!texts.iter().any(|t| t.starts_with("COMMIT")), "{texts:?}");
}

#[test]
fn limits_become_top_or_stop_the_stream_and_unknown_tables_fail_with_the_server_error() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_limit");
    let sb = sandbox(&srv.url(PASSWORD), &dw);
    sb.project(
        "ms_limit",
        r#"project("ms_limit");
        let ms = connect("ms");
        let dw = connect("warehouse");
        task("table", |run| { dw.load(#{ from: ms.table("dbo.orders").limit(5), into: "top5" }); });
        task("sql", |run| {
            dw.load(#{ from: ms.sql("SELECT id, amount FROM dbo.orders").limit(7), into: "first7" });
        });"#,
    );
    sb.exec_with("ms_limit", &[], &[]).ok();
    assert_eq!(
        text(&dw, "SELECT count(*), max(id) FROM public.top5"),
        ["5|5"]
    );
    assert_eq!(
        text(&dw, "SELECT count(*), max(id) FROM public.first7"),
        ["7|7"]
    );
    let stmts = srv.statements();
    assert!(
        stmts
            .iter()
            .any(|s| s.sql == "SELECT TOP (5) [id], [amount], [updated_at] FROM [dbo].[orders]"),
        "{stmts:?}"
    );
    // The sql(..) read asked for all 10,000 rows and stopped after 7 (its connection closed).
    assert!(stmts
        .iter()
        .any(|s| s.sql == "SELECT id, amount FROM dbo.orders"));

    sb.project(
        "ms_nope",
        r#"project("ms_nope");
        let ms = connect("ms");
        let dw = connect("warehouse");
        task("t", |run| { dw.load(#{ from: ms.table("dbo.nope"), into: "nope" }); });"#,
    );
    let run = sb.exec_with("ms_nope", &[], &[]).failed();
    assert_contains(
        &run.output,
        "Invalid object name 'dbo.nope'. (SQL Server error 208, line 1)",
    );
}

#[test]
fn a_login_redirected_by_a_gateway_reconnects_to_the_named_server() {
    let target = Server::start();
    let gateway = Server::redirecting_to(&target);
    let dw = PgTestDb::new("ms_route");
    let sb = sandbox(&gateway.url(PASSWORD), &dw);
    sb.project(
        "ms_route",
        r#"project("ms_route");
        let ms = connect("ms");
        let dw = connect("warehouse");
        task("t", |run| { dw.load(#{ from: ms.table("dbo.orders").limit(3), into: "routed" }); });"#,
    );
    sb.exec_with("ms_route", &[], &[]).ok();
    assert_eq!(text(&dw, "SELECT count(*) FROM public.routed"), ["3"]);
    // The gateway only saw logins; the statements went to the server it named.
    assert!(gateway.statements().is_empty());
    assert!(!gateway.requests().is_empty());
    assert!(target
        .statements()
        .iter()
        .any(|s| s.sql.starts_with("SELECT TOP (3)")));
}

#[test]
fn a_statement_past_the_read_limit_closes_the_connection_with_a_clear_error() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_stall");
    let sb = sandbox(&format!("{}&read_timeout=1s", srv.url(PASSWORD)), &dw);
    sb.project(
        "ms_stall",
        r#"project("ms_stall");
        let ms = connect("ms");
        task("t", |run| { ms.execute("WAITFOR DELAY '00:01:00'"); });"#,
    );
    let started = std::time::Instant::now();
    let run = sb.exec_with("ms_stall", &[], &[]).failed();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_contains(&run.output, "within 1s (read_timeout/statement_timeout)");
    assert_contains(&run.output, "the connection was closed");
}

#[test]
fn an_entra_login_sends_the_token_from_token_env() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_entra");
    let url = format!(
        "mssql://127.0.0.1:{}/erp?auth=entra&token_env=MS_TOKEN&encrypt=not_supported",
        srv.port
    );
    let sb = sandbox(&url, &dw);
    sb.project(
        "ms_entra",
        r#"project("ms_entra");
        let ms = connect("ms");
        let dw = connect("warehouse");
        task("t", |run| { dw.load(#{ from: ms.table("dbo.orders").limit(2), into: "entra" }); });"#,
    );
    sb.exec_with("ms_entra", &[], &[("MS_TOKEN", &format!("{TOKEN}\n"))])
        .ok();
    assert_eq!(text(&dw, "SELECT count(*) FROM public.entra"), ["2"]);
    let logins: Vec<_> = srv
        .requests()
        .into_iter()
        .filter_map(|r| match r {
            Request::Login { user, token, .. } => Some((user, token)),
            Request::Sql(_) => None,
        })
        .collect();
    assert!(!logins.is_empty());
    // The token, trimmed, in LOGIN7's FEDAUTH feature; no user name or password.
    assert!(
        logins
            .iter()
            .all(|(user, token)| user.is_empty() && token.as_deref() == Some(TOKEN)),
        "{logins:?}"
    );

    let wrong = "expired.token.value";
    let run = sb
        .exec_with("ms_entra", &[], &[("MS_TOKEN", wrong)])
        .failed();
    assert_contains(
        &run.output,
        "Login failed for user '<token-identified principal>'. (SQL Server error 18456",
    );
    assert!(!run.output.contains(wrong), "{}", run.output);
    let run = sb.exec_with("ms_entra", &[], &[]).failed();
    assert_contains(
        &run.output,
        "the environment variable MS_TOKEN (token_env) is not set",
    );
}

#[test]
fn tls_inside_prelogin_for_the_whole_session_or_the_login_only() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_tls");
    let script = r#"project("ms_tls");
        let ms = connect("ms");
        let dw = connect("warehouse");
        task("t", |run| { dw.load(#{ from: ms.table("dbo.orders").limit(4), into: "tls" }); });"#;
    let base = format!("mssql://etl:{PASSWORD}@127.0.0.1:{}/erp", srv.port);
    for (params, whole) in [
        ("trust_server_certificate=true", true),
        ("encrypt=off&trust_server_certificate=true", false),
    ] {
        srv.clear();
        let sb = sandbox(&format!("{base}?{params}"), &dw);
        sb.project("ms_tls", script);
        sb.exec_with("ms_tls", &[], &[]).ok();
        assert_eq!(
            text(&dw, "SELECT count(*) FROM public.tls"),
            ["4"],
            "{params}"
        );
        // encrypt=required (the default) is ENCRYPT_REQ (3), encrypt=off ENCRYPT_OFF (0).
        let want = if whole { Some(3) } else { Some(0) };
        for r in srv.requests() {
            if let Request::Login {
                encryption, tls, ..
            } = r
            {
                assert_eq!((encryption, tls), (want, whole), "{params}");
            }
        }
        assert!(!srv.statements().is_empty());
    }
    // The default verifies the certificate: a self-signed one is refused.
    let sb = sandbox(&base, &dw);
    sb.project("ms_tls", script);
    let run = sb.exec_with("ms_tls", &[], &[]).failed();
    assert_contains(&run.output, "cannot connect to etl@127.0.0.1:");
    assert_contains(&run.output, "invalid peer certificate: UnknownIssuer");
    assert!(!run.output.contains(PASSWORD), "{}", run.output);
}

#[test]
fn introspection_reads_information_schema_with_bound_names() {
    let srv = Server::start();
    let dw = PgTestDb::new("ms_catalog");
    let sb = sandbox(&srv.url(PASSWORD), &dw);
    sb.project(
        "ms_catalog",
        r#"project("ms_catalog");
        let ms = connect("ms");
        task("peek", |run| {
            print(`tables: ${ms.tables()}`);
            print(`columns: ${ms.columns("orders")}`);
            print(`key: ${ms.primary_key("dbo.orders")}`);
            print(`no key: ${ms.primary_key("types")}`);
        });"#,
    );
    let run = sb.exec_with("ms_catalog", &[], &[]).ok();
    assert_contains(&run.output, r#"tables: ["orders", "types"]"#);
    assert_contains(
        &run.output,
        r#"columns: [#{"name": "id", "nullable": false, "type": "int"}, #{"name": "amount", "nullable": true, "type": "decimal(12,2)"}, #{"name": "updated_at", "nullable": true, "type": "datetime2(3)"}]"#,
    );
    assert_contains(&run.output, r#"key: ["id"]"#);
    assert_contains(&run.output, "no key: []");
    // Each catalog query: described (its unnamed columns come back with a NULL name), then
    // run between BEGIN TRANSACTION and a rollback, the names bound as @P parameters.
    let stmts = srv.statements();
    let queries: Vec<_> = stmts
        .iter()
        .filter(|s| s.sql.contains("INFORMATION_SCHEMA"))
        .collect();
    // (A table without a key has its columns read too: no key, or no such table?)
    assert_eq!(queries.len(), 5, "{stmts:?}");
    for q in &queries {
        assert_ne!(q.txn, [0; 8], "{}", q.sql);
    }
    let bound =
        |i: usize| -> Vec<Val> { queries[i].params.iter().map(|p| p.val.clone()).collect() };
    assert_eq!(bound(0), []);
    assert_eq!(bound(1), [Val::Text("orders".into())]);
    assert_eq!(
        bound(2),
        [Val::Text("orders".into()), Val::Text("dbo".into())]
    );
    assert_eq!(bound(3), [Val::Text("types".into())]);
    assert_eq!(bound(4), [Val::Text("types".into())]);
    let rollbacks = stmts.iter().filter(|s| s.sql.contains("ROLLBACK")).count();
    assert_eq!(rollbacks, 5);
}
