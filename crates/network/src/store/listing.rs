//! Lists in SQL: a table's columns that a list may filter and sort by, and
//! the page of rows a [`ListQuery`] selects, found with the listing indexes
//! instead of by loading the table.

use oxistack_core::db::{self, Param, Pool, Select};

use crate::Result;

/// A column of a listed table.
pub trait Column: Copy + PartialEq + Send + Sync + 'static {
    type Row: db::Record;
    /// The table (a name from this crate, never from a request).
    const TABLE: &'static str;
    const ID: Self;
    const CREATED_AT: Self;
    fn name(self) -> &'static str;
    /// This column's value in `row`, as a keyset position is given.
    fn value(self, row: &Self::Row) -> Param;
}

/// A list: the rows the caller may see (`scope`, a condition with its
/// values), each filter as a column and the values it may hold (none: no
/// row), an order ending in the id, the position after which the page
/// starts, and how many rows at most.
#[derive(Clone, Debug)]
pub struct ListQuery<C> {
    pub scope: Option<(&'static str, Vec<Param>)>,
    pub filters: Vec<(C, Vec<Param>)>,
    pub order: Vec<(C, bool)>,
    pub after: Option<Vec<Param>>,
    pub limit: Option<i64>,
}

impl<C> Default for ListQuery<C> {
    fn default() -> Self {
        ListQuery { scope: None, filters: vec![], order: vec![], after: None, limit: None }
    }
}

/// The rows `q` selects, in its order (by creation when it has none).
pub async fn page<C: Column>(pool: &Pool, q: &ListQuery<C>) -> Result<Vec<C::Row>> {
    let mut select = Select::new(&format!("SELECT * FROM {}", C::TABLE));
    if let Some((clause, params)) = &q.scope {
        select = select.filter(clause, params.iter().cloned());
    }
    for (column, values) in &q.filters {
        select = select.any_of(column.name(), values);
    }
    let order: Vec<(&'static str, bool)> = if q.order.is_empty() {
        vec![(C::CREATED_AT.name(), true), (C::ID.name(), true)]
    } else {
        q.order.iter().map(|(c, asc)| (c.name(), *asc)).collect()
    };
    let (sql, params) = select.page(&order, q.after.as_deref(), q.limit).build();
    Ok(db::query_as::<C::Row>(&sql).bind_all(params).fetch_all(pool).await?)
}
