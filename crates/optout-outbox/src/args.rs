//! Bind parameters written in each dialect's cheapest form: `$N` for PostgreSQL, a plain `?`
//! for SQLite.
//!
//! sqlx asks SQLite for every parameter's name before binding it, and for a named parameter
//! (`$N`, `?N`) SQLite walks the statement's list of names, so binding a multi-row statement
//! costs the square of its parameters (`perf`: `sqlite3_bind_parameter_name` was 5% of a whole
//! machine's samples during a drain with 16-row statements). Anonymous `?` parameters have no
//! name to look up: they bind in order. So a statement is built with [`Args`]: each value is
//! pushed where it appears in the text, and a value used twice is pushed twice.

use std::borrow::Cow;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use crate::sql::Dialect;

/// One bound value.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}

/// The values of one statement, in the order their placeholders appear in its text.
#[derive(Debug)]
pub(crate) struct Args {
    dialect: Dialect,
    values: Vec<Arg>,
}

impl Args {
    pub(crate) fn new(dialect: Dialect) -> Args {
        Args {
            dialect,
            values: Vec::new(),
        }
    }

    /// Adds a value and answers its placeholder, to be written into the text at this point.
    pub(crate) fn push(&mut self, v: impl Into<Arg>) -> Cow<'static, str> {
        self.values.push(v.into());
        match self.dialect {
            Dialect::Sqlite => Cow::Borrowed("?"),
            Dialect::Postgres => Cow::Owned(format!("${}", self.values.len())),
        }
    }

    /// `sql` with every value bound.
    pub(crate) fn query(self, sql: &str) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(sql);
        for v in self.values {
            q = match v {
                Arg::Int(i) => q.bind(i),
                Arg::Text(t) => q.bind(t),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_dialect() {
        let mut pg = Args::new(Dialect::Postgres);
        assert_eq!(
            (pg.push(1_i64), pg.push("a"), pg.push(1_i64)),
            ("$1".into(), "$2".into(), "$3".into())
        );
        let mut lite = Args::new(Dialect::Sqlite);
        assert_eq!(
            (lite.push(1_i64), lite.push(None::<String>)),
            ("?".into(), "?".into())
        );
        assert_eq!(lite.values.len(), 2);
    }
}
