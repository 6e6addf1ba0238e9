//! Introspection on Salesforce: `tables()` from describeGlobal (queryable objects only),
//! `columns()` from describe, `primary_key()` = Id, and `copy::database` from the org.

use super::common::{text, PgTestDb};
use super::{accounts, Org, Sandbox};

const SCRIPT: &str = r#"
import "etl/copy" as copy;
project("crm", #{ target: "warehouse" });
let sf = connect("sf");
let dw = connect("warehouse");
log_info(`tables: ${sf.tables()}`);
log_info(`glob: ${sf.tables("Acc*")}`);
for c in sf.columns("Account") { log_info(`column: ${c.name} ${c.type} ${c.nullable}`); }
log_info(`key: ${sf.primary_key("Account")}`);
try { sf.primary_key("Nope__c"); } catch (e) { log_info(`missing: ${e}`); }
let copied = copy::database(sf, dw, #{ include: ["Account"], into_schema: "crm" });
log_info(`tasks: ${copied}`);
"#;

#[test]
fn tables_columns_and_key_come_from_describe_and_copy_database_copies_the_org() {
    let org = Org::start(accounts(5));
    let db = PgTestDb::new("sf_catalog");
    let s = Sandbox::on_postgres(&org, SCRIPT, &db)
        .env("ETL_STDLIB", concat!(env!("CARGO_MANIFEST_DIR"), "/stdlib"));
    let run = s.exec().ok();
    for line in [
        // Sorted; the change-event object is not queryable.
        r#"tables: ["Account", "User"]"#,
        r#"glob: ["Account"]"#,
        "column: Id id false",
        "column: Name string(255) false",
        "column: AnnualRevenue currency(18,2) true",
        "column: NumberOfEmployees int true",
        "column: OwnerId reference false",
        "column: SystemModstamp datetime false",
        r#"key: ["Id"]"#,
        r#"tasks: ["crm.Account"]"#,
        "missing: connection 'sf'",
        "primary_key(\"Nope__c\"): there is no object 'Nope__c'",
    ] {
        assert!(
            run.output.contains(line),
            "expected {line:?} in:\n{}",
            run.output
        );
    }
    // The compound BillingAddress is not a column (table() does not read it either).
    assert!(
        !run.output.contains("column: BillingAddress"),
        "{}",
        run.output
    );
    assert_eq!(
        text(
            &db,
            r#"SELECT count(*), count(DISTINCT "Id"), sum("NumberOfEmployees") FROM crm."Account""#
        ),
        ["5|5|110"]
    );
    // Id became the copy's primary key.
    assert_eq!(
        text(
            &db,
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
             AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'crm.\"Account\"'::regclass AND i.indisprimary"
        ),
        ["Id"]
    );
    // A schema is refused with what to do.
    s.script(
        r#"project("crm"); let sf = connect("sf"); log_info(`${sf.tables(#{ schema: "x" })}`);"#,
    );
    s.exec()
        .failed()
        .contains("Salesforce has no schemas (asked for 'x')");
}
