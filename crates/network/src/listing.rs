//! A list query in SQL: every filter on a column, and (when every filter,
//! sort key and the limit are such that SQL answers them as the generic list
//! would) the order, marker and limit too. Otherwise the rows the column
//! filters select go to the generic list in `api`, which does the rest.

use oxistack_core::db::Param;

use crate::store::listing::{self, Column, ListQuery};
use crate::{NeutronError, Result, LIST_CONTROLS};

/// A listed resource's columns by their API names.
pub trait ApiColumn: Column {
    /// The column an attribute is kept in, if it is one.
    fn of_attribute(key: &str) -> Option<Self>;
    /// How a filter's value is compared, as the generic filters compare.
    fn kind(self) -> Kind {
        Kind::Text
    }
}

/// How a column's filter values are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Exactly.
    Text,
    /// `true`/`false` in any case (anything else matches no row).
    Bool,
    /// A whole number (anything else matches no row).
    Int,
}

fn filter_value(kind: Kind, value: &str) -> Option<Param> {
    match kind {
        Kind::Text => Some(Param::Text(value.to_owned())),
        Kind::Bool => ["false", "true"].iter().position(|b| value.eq_ignore_ascii_case(b)).map(|i| Param::Bool(i == 1)),
        Kind::Int => value.parse().ok().map(Param::Int),
    }
}

/// The rows of a list.
pub enum Rows<R> {
    /// Narrowed by the column filters only: the generic list does the rest.
    Filtered(Vec<R>),
    /// The query answered, with one row past the page when there are more.
    Page(Vec<R>),
}

/// The rows `query` asks for among those `scope` lets the caller see.
pub async fn list<C: ApiColumn>(
    pool: &oxistack_core::db::Pool,
    query: &[(String, String)],
    mut q: ListQuery<C>,
) -> Result<Rows<C::Row>> {
    fn values<'a>(query: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        query.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    let all = |key: &'static str| values(query, key);
    let one = |key: &'static str| values(query, key).next();
    let mut in_sql = !one("page_reverse").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut keys: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).filter(|k| !LIST_CONTROLS.contains(k)).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        match C::of_attribute(key) {
            Some(column) => {
                q.filters.push((column, values(query, key).filter_map(|v| filter_value(column.kind(), v)).collect()))
            }
            None => in_sql = false,
        }
    }
    in_sql &= ["tags", "tags-any", "not-tags", "not-tags-any"].iter().all(|k| one(k).is_none());
    let dirs: Vec<&str> = all("sort_dir").collect();
    in_sql &= dirs.iter().all(|d| *d == "asc" || *d == "desc");
    let mut order = vec![];
    for (i, key) in all("sort_key").enumerate() {
        match C::of_attribute(key) {
            Some(column) => order.push((column, dirs.get(i) != Some(&"desc"))),
            None => in_sql = false,
        }
    }
    let limit = match one("limit") {
        Some(l) => l.parse::<i64>().ok().filter(|l| *l >= 0),
        None => Some(0),
    };
    in_sql &= limit.is_some();
    if !in_sql {
        return Ok(Rows::Filtered(listing::page(pool, &q).await?));
    }
    if !order.is_empty() {
        if !order.iter().any(|(c, _)| *c == C::ID) {
            order.push((C::ID, true));
        }
        q.order = order.clone();
    } else {
        order = vec![(C::CREATED_AT, true), (C::ID, true)];
    }
    if let Some(m) = one("marker") {
        // The marker must be a row the caller may list under the same filters.
        let mut at = q.clone();
        at.filters.push((C::ID, vec![Param::Text(m.to_owned())]));
        at.limit = Some(1);
        let row = listing::page(pool, &at)
            .await?
            .pop()
            .ok_or_else(|| NeutronError::not_found("HTTPNotFound", format!("Marker {m} could not be found.")))?;
        q.after = Some(order.iter().map(|(c, _)| c.value(&row)).collect());
    }
    // One past the page tells the API there is a next one.
    q.limit = limit.filter(|l| *l > 0).map(|l| l + 1);
    Ok(Rows::Page(listing::page(pool, &q).await?))
}
