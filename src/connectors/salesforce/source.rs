//! `sf.table("Account")` and `sf.sql("SELECT ... FROM Account")` as sources: the columns and
//! their types come from `describe` (parents' describes for `Owner.Name`), the rows from the
//! REST query API or a Bulk API 2.0 job. Nothing is fetched until a read or a plan needs it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::api::Api;
use super::config::SfConfig;
use super::describe::{self, Describe};
use super::soql;
use super::{bulk, rest};
use crate::connectors::{
    BatchStream, CursorWindow, Io, Params, ReadOptions, Relations, Source, SourceStatement,
    TableOptions,
};
use crate::data::{Column, DataType, Schema, Value};
use crate::dotenv::DotEnv;
use crate::error::{EtlError, Result};

/// One connection's client and the describes it has read.
pub struct Shared {
    pub name: String,
    pub cfg: Arc<SfConfig>,
    env: Arc<DotEnv>,
    api: OnceLock<Arc<Api>>,
    describes: Mutex<HashMap<String, Arc<Describe>>>,
}

impl Shared {
    pub fn new(name: &str, cfg: SfConfig, env: Arc<DotEnv>) -> Shared {
        Shared {
            name: name.to_string(),
            cfg: Arc::new(cfg),
            env,
            api: OnceLock::new(),
            describes: Mutex::new(HashMap::new()),
        }
    }

    pub fn api(&self) -> Result<Arc<Api>> {
        if let Some(a) = self.api.get() {
            return Ok(a.clone());
        }
        let a = Api::new(self.cfg.clone(), self.env.clone())
            .map_err(|e| EtlError::Config(format!("connection '{}': {e}", self.name)))?;
        Ok(self.api.get_or_init(|| Arc::new(a)).clone())
    }

    /// An error of this connection, masked.
    pub fn fail(&self, what: &str, e: String) -> EtlError {
        let e = match self.api.get() {
            Some(a) => a.mask(&e),
            None => e,
        };
        EtlError::Other(format!(
            "connection '{}' ({}): {what}: {e}",
            self.name,
            self.cfg.display()
        ))
    }

    /// The org's queryable objects (describeGlobal), sorted by name.
    pub async fn queryable_objects(&self) -> std::result::Result<Vec<String>, String> {
        let api = self.api().map_err(|e| e.to_string())?;
        let url = self.cfg.data_url("sobjects/");
        let body = api.get_json(&url).await?;
        let mut names: Vec<String> = describe::Global::parse(&body)?
            .sobjects
            .into_iter()
            .filter(|o| o.queryable)
            .map(|o| o.name)
            .collect();
        names.sort();
        Ok(names)
    }

    pub async fn describe(&self, object: &str) -> std::result::Result<Arc<Describe>, String> {
        let key = object.to_ascii_lowercase();
        if let Some(d) = self.describes.lock().expect("describes").get(&key) {
            return Ok(d.clone());
        }
        let api = self.api().map_err(|e| e.to_string())?;
        let url = self.cfg.data_url(&format!("sobjects/{object}/describe"));
        let body = api.get_json(&url).await.map_err(|e| {
            if e.contains("NOT_FOUND") || e.contains("404") {
                format!("there is no object '{object}' ({e}); check its API name (Account, My_Object__c)")
            } else {
                e
            }
        })?;
        let d = Arc::new(Describe::parse(&body)?);
        self.describes
            .lock()
            .expect("describes")
            .insert(key, d.clone());
        Ok(d)
    }
}

pub struct SfRelations {
    pub shared: Arc<Shared>,
}

/// Options of a Salesforce read, from `table(name, #{...})` or the parameters of `sql`.
#[derive(Clone, Copy, Debug, Default)]
struct ReadKind {
    /// A Bulk API 2.0 query job instead of the REST query API.
    bulk: bool,
    /// `queryAll`: deleted (and archived) records too, with `IsDeleted`.
    deleted: bool,
}

const OPTIONS: &[&str] = &["bulk", "deleted"];

fn read_kind(options: &mut Params, what: &str) -> Result<ReadKind> {
    let mut kind = ReadKind::default();
    let mut rest = Vec::new();
    for (k, v) in options.drain(..) {
        let flag = match (k.as_str(), &v) {
            ("bulk" | "deleted", Value::Bool(b)) => *b,
            ("bulk" | "deleted", _) => {
                return Err(EtlError::Config(format!(
                    "{what}: option '{k}' must be true or false"
                )))
            }
            _ => {
                rest.push((k, v));
                continue;
            }
        };
        if k == "bulk" {
            kind.bulk = flag;
        } else {
            kind.deleted = flag;
        }
    }
    *options = rest;
    Ok(kind)
}

impl Relations for SfRelations {
    fn table(&self, table: &str, opts: &TableOptions) -> Result<Arc<dyn Source>> {
        if opts.parallel > 1 {
            return Err(EtlError::Config(format!(
                "connection '{}': table(\"{table}\"): parallel reads are for MySQL; use #{{ bulk: true }} for large objects",
                self.shared.name
            )));
        }
        if table.is_empty()
            || !table
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return Err(EtlError::Config(format!(
                "connection '{}': '{table}' is not an object's API name (Account, My_Object__c)",
                self.shared.name
            )));
        }
        let mut options = opts.options.clone();
        let kind = read_kind(&mut options, "table()")?;
        Ok(Arc::new(SfSource {
            shared: self.shared.clone(),
            what: What::Table(table.to_string()),
            kind,
            plan: OnceLock::new(),
        }))
    }

    /// SOQL has no bind parameters: `:name` is written in as a literal of the parameter's
    /// typed value; `bulk` and `deleted` are read options, not parameters.
    fn query(&self, sql: &str, mut params: Params) -> Result<Arc<dyn Source>> {
        let kind = read_kind(&mut params, "sql()")?;
        let fail =
            |e: String| EtlError::Config(format!("connection '{}': sql(): {e}", self.shared.name));
        let select = soql::parse_select(sql).map_err(fail)?;
        // Every placeholder must have a value now, not at the first read.
        soql::bind(sql, &with_window(&params, sql, None)).map_err(fail)?;
        Ok(Arc::new(SfSource {
            shared: self.shared.clone(),
            what: What::Query {
                text: sql.to_string(),
                params,
                select,
            },
            kind,
            plan: OnceLock::new(),
        }))
    }

    fn table_options(&self) -> &'static [&'static str] {
        OPTIONS
    }
}

enum What {
    Table(String),
    /// The script's SOQL and parameters, written in at each read (`:since` / `:until` are
    /// the read's window).
    Query {
        text: String,
        params: Params,
        select: soql::Select,
    },
}

/// A column of the read: its name, its path in a record (`["Owner", "Name"]`) and type.
#[derive(Clone, Debug)]
pub struct SfColumn {
    pub name: String,
    pub path: Vec<String>,
    pub data_type: DataType,
}

/// What a read selects, resolved against describe.
pub struct Plan {
    pub columns: Vec<SfColumn>,
    /// SOQL with canonical field names, without the window.
    pub soql: String,
}

pub struct SfSource {
    shared: Arc<Shared>,
    what: What,
    kind: ReadKind,
    plan: OnceLock<Arc<Plan>>,
}

impl SfSource {
    fn plan(&self, io: &Io) -> Result<Arc<Plan>> {
        if let Some(p) = self.plan.get() {
            return Ok(p.clone());
        }
        let plan = io.block_on(async {
            self.resolve()
                .await
                .map_err(|e| self.shared.fail(&self.describe_read(), e))
        })?;
        Ok(self.plan.get_or_init(|| Arc::new(plan)).clone())
    }

    fn describe_read(&self) -> String {
        match &self.what {
            What::Table(t) => format!("table(\"{t}\")"),
            What::Query { select, .. } => format!("sql(\"SELECT ... FROM {}\")", select.object),
        }
    }

    async fn resolve(&self) -> std::result::Result<Plan, String> {
        match &self.what {
            What::Table(object) => {
                let d = self.shared.describe(object).await?;
                let columns: Vec<SfColumn> = d
                    .fields
                    .iter()
                    .filter(|f| describe::in_table(f))
                    .map(|f| SfColumn {
                        name: f.name.clone(),
                        path: vec![f.name.clone()],
                        data_type: describe::data_type(f),
                    })
                    .collect();
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                Ok(Plan {
                    soql: format!("SELECT {} FROM {}", names.join(", "), d.name),
                    columns,
                })
            }
            What::Query { text, select, .. } => {
                let root = self.shared.describe(&select.object).await?;
                let mut columns = Vec::new();
                for field in &select.fields {
                    columns.push(self.resolve_field(&root, field).await?);
                }
                Ok(Plan {
                    columns,
                    soql: text.clone(),
                })
            }
        }
    }

    /// `Owner.Name` through the lookups' describes to its field.
    async fn resolve_field(
        &self,
        root: &Arc<Describe>,
        field: &str,
    ) -> std::result::Result<SfColumn, String> {
        let parts: Vec<&str> = field.split('.').collect();
        let mut d = root.clone();
        let mut path = Vec::new();
        for rel in &parts[..parts.len() - 1] {
            let lookup = d.relationship(rel).ok_or_else(|| {
                format!("'{field}': {} has no relationship '{rel}' (a lookup's relationship name, such as Owner or Account)", d.name)
            })?;
            path.push(lookup.relationship_name.clone().unwrap_or_default());
            let parent = lookup
                .reference_to
                .first()
                .ok_or_else(|| format!("'{field}': the lookup {} names no object", lookup.name))?
                .clone();
            d = self.shared.describe(&parent).await?;
        }
        let last = parts[parts.len() - 1];
        let f = d
            .field(last)
            .ok_or_else(|| format!("'{field}': {} has no field '{last}'", d.name))?;
        path.push(f.name.clone());
        Ok(SfColumn {
            name: path.join("_"),
            path,
            data_type: describe::data_type(f),
        })
    }

    /// The SOQL a read with `window` sends, and the position of the window's column.
    fn soql_for(
        &self,
        plan: &Plan,
        window: Option<&CursorWindow>,
    ) -> std::result::Result<(String, Option<(usize, CursorWindow)>), String> {
        let placed = match &self.what {
            What::Query { text, params, .. } => {
                let own = soql::placeholders(text)
                    .iter()
                    .any(|p| p == "since" || p == "until");
                let text = soql::bind(text, &with_window(params, text, window))?;
                (text, own)
            }
            What::Table(_) => (plan.soql.clone(), false),
        };
        let (text, own_window) = placed;
        let Some(w) = window else {
            return Ok((text, None));
        };
        let i = plan
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(&w.column))
            .ok_or_else(|| {
                format!(
                    "the cursor '{}' is not a column of the read (SystemModstamp or LastModifiedDate are the usual ones)",
                    w.column
                )
            })?;
        let text = match own_window {
            true => text,
            false => match soql::window_condition(&plan.columns[i].path.join("."), w)? {
                Some(cond) => soql::add_condition(&text, &cond),
                None => text,
            },
        };
        Ok((text, Some((i, w.clone()))))
    }
}

/// The script's parameters, and the window's bounds for `:since` / `:until` when the query
/// names them and the script did not give them: widened to whole seconds, or the ends of
/// time when the window leaves them open.
fn with_window(params: &Params, text: &str, w: Option<&CursorWindow>) -> Params {
    let mut out = params.clone();
    let names = soql::placeholders(text);
    let edge = |s: &str| Value::parse(s, &DataType::TimestampTz).expect("a valid timestamp");
    for (name, value) in [
        ("since", w.and_then(|w| w.since.as_ref()).map(soql::floor)),
        ("until", w.and_then(|w| w.until.as_ref()).map(soql::ceil)),
    ] {
        if names.iter().any(|n| n == name) && !params.iter().any(|(k, _)| k == name) {
            let open = if name == "since" {
                "1970-01-01 00:00:00+00"
            } else {
                "9999-12-31 23:59:59+00"
            };
            out.push((name.to_string(), value.unwrap_or_else(|| edge(open))));
        }
    }
    out
}

impl Source for SfSource {
    fn describe(&self) -> String {
        format!("{} {}", self.shared.cfg.display(), self.describe_read())
    }

    fn schema(&self, io: &Io) -> Result<Schema> {
        let plan = self.plan(io)?;
        Ok(Schema::new(
            plan.columns
                .iter()
                .map(|c| Column::new(c.name.clone(), c.data_type.clone()))
                .collect(),
        ))
    }

    fn open(&self, io: &Io, opts: &ReadOptions) -> Result<BatchStream> {
        let plan = self.plan(io)?;
        let schema = self.schema(io)?;
        let (text, window) = self
            .soql_for(&plan, opts.window.as_ref())
            .map_err(|e| self.shared.fail(&self.describe_read(), e))?;
        let read = Read {
            shared: self.shared.clone(),
            api: self.shared.api()?,
            plan,
            soql: text,
            window,
            deleted: self.kind.deleted,
            batch_rows: opts.batch_rows,
            limit: opts.limit,
            what: self.describe_read(),
        };
        // A sample run (a row limit) reads a page, not a whole Bulk job.
        let bulk = self.kind.bulk && opts.limit.is_none();
        Ok(BatchStream::spawn(io, schema, move |tx| async move {
            let r = if bulk {
                bulk::read(&read, &tx).await
            } else {
                rest::read(&read, &tx).await
            };
            r.map(|_| ()).map_err(|e| match e {
                EtlError::Cancelled => e,
                EtlError::Other(m) => read.shared.fail(&read.what, m),
                other => other,
            })
        }))
    }

    fn applies_window(&self) -> bool {
        true
    }

    fn statement(&self, io: &Io, opts: &ReadOptions) -> Result<Option<SourceStatement>> {
        let plan = self.plan(io)?;
        let (text, _) = self
            .soql_for(&plan, opts.window.as_ref())
            .map_err(|e| self.shared.fail(&self.describe_read(), e))?;
        let how = match (self.kind.bulk, self.kind.deleted) {
            (true, true) => "Bulk API 2.0 queryAll job",
            (true, false) => "Bulk API 2.0 query job",
            (false, true) => "REST queryAll",
            (false, false) => "REST query",
        };
        Ok(Some(SourceStatement {
            dialect: "SOQL",
            sql: format!("{text}  -- {how}, {}", self.shared.cfg.display()),
            params: Vec::new(),
            unbounded: Vec::new(),
        }))
    }
}

/// Everything a reader needs, moved onto the runtime.
pub struct Read {
    pub shared: Arc<Shared>,
    pub api: Arc<Api>,
    pub plan: Arc<Plan>,
    pub soql: String,
    pub window: Option<(usize, CursorWindow)>,
    pub deleted: bool,
    pub batch_rows: usize,
    pub limit: Option<u64>,
    pub what: String,
}
