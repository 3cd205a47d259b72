//! A list query assembled from filters, an order and a keyset page: what the
//! services' list calls (`limit`, `marker`, `sort_key`, filters) become, so
//! that the database narrows, orders and cuts the rows with its indexes
//! instead of the server loading a project's rows to do it.
//!
//! Column names come from the store's code, never from a request; values are
//! always bound.

use super::query::{Bind, Param};

/// `SELECT ... WHERE ... ORDER BY ... LIMIT ...`, built up clause by clause.
#[derive(Clone, Debug)]
pub struct Select {
    from: String,
    clauses: Vec<String>,
    params: Vec<Param>,
    order: Vec<(&'static str, bool)>,
    after: Option<Vec<Param>>,
    limit: Option<i64>,
}

/// `%`, `_` and the escape itself taken literally in a LIKE pattern.
pub fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Select {
    /// `head` is the statement up to its WHERE, e.g. `SELECT * FROM ports`.
    pub fn new(head: &str) -> Select {
        Select { from: head.to_owned(), clauses: vec![], params: vec![], order: vec![], after: None, limit: None }
    }

    /// A condition of the store's own text with `?` for each of `params`.
    pub fn filter(mut self, clause: &str, params: impl IntoIterator<Item = Param>) -> Select {
        self.clauses.push(clause.to_owned());
        self.params.extend(params);
        self
    }

    pub fn eq(self, column: &'static str, value: impl Bind) -> Select {
        let p = value.param();
        self.filter(&format!("{column} = ?"), [p])
    }

    /// `column` is one of `values` (no row when there are none).
    pub fn any_of<V: Bind>(self, column: &'static str, values: &[V]) -> Select {
        if values.is_empty() {
            return self.filter("1 = 0", []);
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.filter(&format!("{column} IN ({marks})"), values.iter().map(Bind::param))
    }

    /// `column` holds `text` somewhere (case-insensitively for ASCII on
    /// SQLite, so callers needing case check again).
    pub fn contains(self, column: &'static str, text: &str) -> Select {
        let pattern = format!("%{}%", like_escaped(text));
        self.filter(&format!("{column} LIKE ? ESCAPE '\\'"), [Param::Text(pattern)])
    }

    /// The order: columns (never NULL) and whether each ascends. The caller
    /// ends it with a unique column so that pages never overlap.
    pub fn order_by(mut self, keys: &[(&'static str, bool)]) -> Select {
        self.order = keys.to_vec();
        self
    }

    /// Only the rows after the one whose order columns hold `values`.
    pub fn after(mut self, values: Vec<Param>) -> Select {
        self.after = Some(values);
        self
    }

    pub fn limit(mut self, n: i64) -> Select {
        self.limit = Some(n);
        self
    }

    /// A page of a list: its order, the position it starts after (if any)
    /// and its most rows (if bounded).
    pub fn page(self, order: &[(&'static str, bool)], after: Option<&[Param]>, limit: Option<i64>) -> Select {
        let mut select = self.order_by(order);
        if let Some(values) = after {
            select = select.after(values.to_vec());
        }
        match limit {
            Some(n) => select.limit(n),
            None => select,
        }
    }

    /// The statement and its values in placeholder order.
    pub fn build(self) -> (String, Vec<Param>) {
        let mut clauses = self.clauses;
        let mut params = self.params;
        if let Some(values) = self.after.filter(|v| v.len() == self.order.len() && !v.is_empty()) {
            let (clause, ps) = keyset(&self.order, values);
            clauses.push(clause);
            params.extend(ps);
        }
        let mut sql = self.from;
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" AND "));
        }
        if !self.order.is_empty() {
            let keys: Vec<String> = self
                .order
                .iter()
                .map(|(column, asc)| format!("{column} {}", if *asc { "ASC" } else { "DESC" }))
                .collect();
            sql.push_str(" ORDER BY ");
            sql.push_str(&keys.join(", "));
        }
        if let Some(n) = self.limit {
            sql.push_str(&format!(" LIMIT {}", n.max(0)));
        }
        (sql, params)
    }
}

/// The rows past a position in the order. One direction for all keys is a
/// row-value comparison, which both engines answer from an index on those
/// columns; mixed directions spell it out key by key.
fn keyset(order: &[(&'static str, bool)], values: Vec<Param>) -> (String, Vec<Param>) {
    let op = |asc: bool| if asc { ">" } else { "<" };
    if order.iter().all(|(_, asc)| *asc == order[0].1) {
        let columns: Vec<&str> = order.iter().map(|(c, _)| *c).collect();
        let marks = vec!["?"; order.len()].join(", ");
        return (format!("({}) {} ({marks})", columns.join(", "), op(order[0].1)), values);
    }
    let mut alternatives = vec![];
    let mut params = vec![];
    for (i, (column, asc)) in order.iter().enumerate() {
        let mut terms: Vec<String> = order[..i].iter().map(|(c, _)| format!("{c} = ?")).collect();
        params.extend(values[..i].iter().cloned());
        terms.push(format!("{column} {} ?", op(*asc)));
        params.push(values[i].clone());
        alternatives.push(format!("({})", terms.join(" AND ")));
    }
    (alternatives.join(" OR "), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_direction_pages_by_row_value() {
        let (sql, params) = Select::new("SELECT * FROM t")
            .eq("project_id", "p")
            .order_by(&[("created_at", false), ("id", false)])
            .after(vec![Param::Text("2026".into()), Param::Text("x".into())])
            .limit(11)
            .build();
        assert_eq!(
            sql,
            "SELECT * FROM t WHERE (project_id = ?) AND ((created_at, id) < (?, ?)) \
             ORDER BY created_at DESC, id DESC LIMIT 11"
        );
        assert_eq!(params.len(), 3);
    }

    #[test]
    fn mixed_directions_spell_out_each_key() {
        let (sql, params) = Select::new("SELECT * FROM t")
            .order_by(&[("name", true), ("id", false)])
            .after(vec![Param::Text("a".into()), Param::Text("x".into())])
            .build();
        assert_eq!(sql, "SELECT * FROM t WHERE ((name > ?) OR (name = ? AND id < ?)) ORDER BY name ASC, id DESC");
        assert_eq!(params.len(), 3);
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_escaped(r"50%_a\b"), r"50\%\_a\\b");
        let (sql, params) = Select::new("SELECT * FROM t").any_of::<&str>("s", &[]).contains("n", "x%").build();
        assert_eq!(sql, "SELECT * FROM t WHERE (1 = 0) AND (n LIKE ? ESCAPE '\\')");
        assert!(matches!(&params[0], Param::Text(p) if p == r"%x\%%"));
    }
}
