//! Introspection: `tables()` are the org's queryable objects (describeGlobal), `columns()`
//! an object's fields as `table()` reads them (describe; compound and base64 fields left
//! out), with Salesforce's type and `nillable`; every object's key is `Id`.

use std::sync::Arc;

use super::describe;
use super::source::Shared;
use crate::connectors::roles::{Catalog, CatalogColumn, TableId};
use crate::connectors::Io;
use crate::error::{EtlError, Result};

pub struct SfCatalog(pub Arc<Shared>);

impl Catalog for SfCatalog {
    fn kind(&self) -> &'static str {
        "Salesforce"
    }

    fn tables(&self, io: &Io, schema: Option<&str>) -> Result<Vec<TableId>> {
        if let Some(s) = schema {
            return Err(EtlError::Config(format!(
                "connection '{}': Salesforce has no schemas (asked for '{s}'); list its objects with {}.tables() or a pattern",
                self.0.name, self.0.name
            )));
        }
        let names = io.block_on(async {
            self.0
                .queryable_objects()
                .await
                .map_err(|e| self.0.fail("tables()", e))
        })?;
        Ok(names
            .into_iter()
            .map(|name| TableId { schema: None, name })
            .collect())
    }

    fn columns(&self, io: &Io, table: &str) -> Result<Vec<CatalogColumn>> {
        self.fields(io, table, "columns")
    }

    fn primary_key(&self, io: &Io, table: &str) -> Result<Vec<String>> {
        // Every object has Id; describing it says whether the object exists.
        let columns = self.fields(io, table, "primary_key")?;
        Ok(columns
            .iter()
            .find(|c| c.name == "Id")
            .map(|c| vec![c.name.clone()])
            .unwrap_or_default())
    }
}

impl SfCatalog {
    /// The fields `table()` reads; `what` names the script's call in errors.
    fn fields(&self, io: &Io, table: &str, what: &str) -> Result<Vec<CatalogColumn>> {
        let d = io.block_on(async {
            self.0
                .describe(table)
                .await
                .map_err(|e| self.0.fail(&format!("{what}(\"{table}\")"), e))
        })?;
        Ok(d.fields
            .iter()
            .filter(|f| describe::in_table(f))
            .map(|f| CatalogColumn {
                name: f.name.clone(),
                declared: describe::declared(f),
                nullable: f.nillable,
            })
            .collect())
    }
}
