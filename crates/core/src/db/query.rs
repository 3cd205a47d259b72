//! Queries that run on either engine.
//!
//! Stores write one SQL text with `?` (or `?N`) placeholders and bind plain
//! values; on PostgreSQL the placeholders are renumbered `$N` and each value
//! goes out with its own type, so a store holds no engine-specific code. Rows
//! decode through `sqlx::FromRow` on both engines (see [`Record`]).

use sqlx::postgres::{PgConnection, PgPool, PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::FromRow;

use super::{Pool, Tx};

/// A row type both engines can decode: derive `sqlx::FromRow` (or use a tuple).
pub trait Record: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Record for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// The type a NULL is sent as: PostgreSQL checks it against the column's.
#[derive(Clone, Copy, Debug)]
pub enum ParamType {
    Bool,
    Int,
    Float,
    Text,
    Bytes,
}

/// One bound value.
#[derive(Clone, Debug)]
pub enum Param {
    Null(ParamType),
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// What can be bound to a placeholder.
pub trait Bind {
    fn param(&self) -> Param;
    /// The type of this value's NULL, for `Option<Self>`.
    fn param_type() -> ParamType;
}

macro_rules! bind_as {
    ($ty:ty, $kind:ident, |$v:ident| $make:expr) => {
        impl Bind for $ty {
            fn param(&self) -> Param {
                let $v = self;
                Param::$kind($make)
            }
            fn param_type() -> ParamType {
                ParamType::$kind
            }
        }
    };
}

bind_as!(str, Text, |v| v.to_owned());
bind_as!(String, Text, |v| v.clone());
bind_as!(bool, Bool, |v| *v);
bind_as!(i64, Int, |v| *v);
bind_as!(i32, Int, |v| i64::from(*v));
bind_as!(u32, Int, |v| i64::from(*v));
bind_as!(u16, Int, |v| i64::from(*v));
bind_as!(u8, Int, |v| i64::from(*v));
bind_as!(f64, Float, |v| *v);
bind_as!([u8], Bytes, |v| v.to_vec());
bind_as!(Vec<u8>, Bytes, |v| v.clone());

impl Bind for Param {
    fn param(&self) -> Param {
        self.clone()
    }
    fn param_type() -> ParamType {
        ParamType::Text
    }
}

impl<T: Bind + ?Sized> Bind for &T {
    fn param(&self) -> Param {
        (**self).param()
    }
    fn param_type() -> ParamType {
        T::param_type()
    }
}

impl<T: Bind> Bind for Option<T> {
    fn param(&self) -> Param {
        match self {
            Some(v) => v.param(),
            None => Param::Null(T::param_type()),
        }
    }
    fn param_type() -> ParamType {
        T::param_type()
    }
}

/// Where a query runs: the pool or an open transaction.
pub enum Target<'c> {
    SqlitePool(&'c SqlitePool),
    SqliteConn(&'c mut SqliteConnection),
    PgPool(&'c PgPool),
    PgConn(&'c mut PgConnection),
}

pub trait Executor<'c> {
    fn target(self) -> Target<'c>;
}

impl<'c> Executor<'c> for &'c Pool {
    fn target(self) -> Target<'c> {
        match self {
            Pool::Sqlite(p) => Target::SqlitePool(p),
            Pool::Postgres(p) => Target::PgPool(p),
        }
    }
}

impl<'c> Executor<'c> for &'c mut Tx {
    fn target(self) -> Target<'c> {
        match self {
            Tx::Sqlite(t) => Target::SqliteConn(t),
            Tx::Postgres(t) => Target::PgConn(t),
        }
    }
}

/// What a statement did.
#[derive(Clone, Copy, Debug)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

/// A statement whose rows, if any, are not read.
pub struct Query<'q> {
    sql: &'q str,
    params: Vec<Param>,
}

/// A query whose rows decode into `T`.
pub struct QueryAs<'q, T> {
    sql: &'q str,
    params: Vec<Param>,
    _row: std::marker::PhantomData<fn() -> T>,
}

/// A query whose rows are one value each.
pub struct QueryScalar<'q, T> {
    inner: QueryAs<'q, (T,)>,
}

pub fn query(sql: &str) -> Query<'_> {
    Query { sql, params: Vec::new() }
}

pub fn query_as<T: Record>(sql: &str) -> QueryAs<'_, T> {
    QueryAs { sql, params: Vec::new(), _row: std::marker::PhantomData }
}

pub fn query_scalar<T>(sql: &str) -> QueryScalar<'_, T>
where
    (T,): Record,
{
    QueryScalar { inner: query_as(sql) }
}

/// `?` and `?N` placeholders as PostgreSQL's `$N`, outside quoted text.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 0;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    next += 1;
                    out.push_str(&next.to_string());
                }
            }
            (None, c) => out.push(c),
        }
    }
    out
}

macro_rules! bind_params {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                Param::Null(ParamType::Bool) => q.bind(None::<bool>),
                Param::Null(ParamType::Int) => q.bind(None::<i64>),
                Param::Null(ParamType::Float) => q.bind(None::<f64>),
                Param::Null(ParamType::Text) => q.bind(None::<String>),
                Param::Null(ParamType::Bytes) => q.bind(None::<Vec<u8>>),
                Param::Bool(v) => q.bind(v),
                Param::Int(v) => q.bind(v),
                Param::Float(v) => q.bind(v),
                Param::Text(v) => q.bind(v),
                Param::Bytes(v) => q.bind(v),
            };
        }
        q
    }};
}

/// Runs `$method` of the query made by `$make` (a path generic over the
/// database) on whichever engine `$on` is.
macro_rules! dispatch {
    ($on:expr, $sql:expr, $params:expr, $make:ident $(::<$t:ty>)?, $method:ident) => {
        match $on.target() {
            Target::SqlitePool(p) => bind_params!(sqlx::$make::<Sqlite $(, $t)?>($sql), $params).$method(p).await,
            Target::SqliteConn(c) => bind_params!(sqlx::$make::<Sqlite $(, $t)?>($sql), $params).$method(c).await,
            Target::PgPool(p) => {
                let sql = numbered($sql);
                bind_params!(sqlx::$make::<Postgres $(, $t)?>(&sql), $params).$method(p).await
            }
            Target::PgConn(c) => {
                let sql = numbered($sql);
                bind_params!(sqlx::$make::<Postgres $(, $t)?>(&sql), $params).$method(c).await
            }
        }
    };
}

impl<'q> Query<'q> {
    pub fn bind<V: Bind>(mut self, value: V) -> Self {
        self.params.push(value.param());
        self
    }

    pub async fn execute<'c>(self, on: impl Executor<'c>) -> Result<Done, sqlx::Error> {
        let done = match on.target() {
            Target::SqlitePool(p) => {
                bind_params!(sqlx::query::<Sqlite>(self.sql), self.params).execute(p).await.map(|r| r.rows_affected())
            }
            Target::SqliteConn(c) => {
                bind_params!(sqlx::query::<Sqlite>(self.sql), self.params).execute(c).await.map(|r| r.rows_affected())
            }
            Target::PgPool(p) => {
                let sql = numbered(self.sql);
                bind_params!(sqlx::query::<Postgres>(&sql), self.params).execute(p).await.map(|r| r.rows_affected())
            }
            Target::PgConn(c) => {
                let sql = numbered(self.sql);
                bind_params!(sqlx::query::<Postgres>(&sql), self.params).execute(c).await.map(|r| r.rows_affected())
            }
        }?;
        Ok(Done { rows_affected: done })
    }
}

impl<'q, T: Record> QueryAs<'q, T> {
    pub fn bind<V: Bind>(mut self, value: V) -> Self {
        self.params.push(value.param());
        self
    }

    /// Binds values in order (those a [`super::Select`] built).
    pub fn bind_all(mut self, values: Vec<Param>) -> Self {
        self.params.extend(values);
        self
    }

    pub async fn fetch_all<'c>(self, on: impl Executor<'c>) -> Result<Vec<T>, sqlx::Error> {
        dispatch!(on, self.sql, self.params, query_as::<T>, fetch_all)
    }

    pub async fn fetch_optional<'c>(self, on: impl Executor<'c>) -> Result<Option<T>, sqlx::Error> {
        dispatch!(on, self.sql, self.params, query_as::<T>, fetch_optional)
    }

    pub async fn fetch_one<'c>(self, on: impl Executor<'c>) -> Result<T, sqlx::Error> {
        dispatch!(on, self.sql, self.params, query_as::<T>, fetch_one)
    }
}

impl<'q, T> QueryScalar<'q, T>
where
    (T,): Record,
{
    pub fn bind<V: Bind>(mut self, value: V) -> Self {
        self.inner = self.inner.bind(value);
        self
    }

    /// Binds values in order (those a [`super::Select`] built).
    pub fn bind_all(mut self, values: Vec<Param>) -> Self {
        self.inner = self.inner.bind_all(values);
        self
    }

    pub async fn fetch_all<'c>(self, on: impl Executor<'c>) -> Result<Vec<T>, sqlx::Error> {
        Ok(self.inner.fetch_all(on).await?.into_iter().map(|(v,)| v).collect())
    }

    pub async fn fetch_optional<'c>(self, on: impl Executor<'c>) -> Result<Option<T>, sqlx::Error> {
        Ok(self.inner.fetch_optional(on).await?.map(|(v,)| v))
    }

    pub async fn fetch_one<'c>(self, on: impl Executor<'c>) -> Result<T, sqlx::Error> {
        Ok(self.inner.fetch_one(on).await?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(numbered("SELECT * FROM t WHERE a = ? AND b = ?"), "SELECT * FROM t WHERE a = $1 AND b = $2");
        assert_eq!(numbered("DELETE FROM t WHERE x = ?1 OR y = ?1"), "DELETE FROM t WHERE x = $1 OR y = $1");
        assert_eq!(numbered("SELECT '?' , \"a?\" FROM t WHERE c = ?"), "SELECT '?' , \"a?\" FROM t WHERE c = $1");
        assert_eq!(numbered("SELECT 'it''s ?' WHERE d = ?"), "SELECT 'it''s ?' WHERE d = $1");
    }
}
