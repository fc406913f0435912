//! One connection to either backend, with the small part of rusqlite's API the store uses: the
//! store's modules are written once against `Db`, in SQL both SQLite and PostgreSQL accept.
//!
//! - SQLite: `Db::Lite` wraps a `rusqlite::Connection`; every call is forwarded as it is.
//! - PostgreSQL: `Db::Pg` wraps a `crate::pg::PgClient` (in a `RefCell`: the store's
//!   methods take `&Db` as they take `&Connection`). Statements are prepared once per
//!   connection and kept by their SQL text; SQLite's placeholders (`?`, `?NNN`) are rewritten to
//!   `$N`. Values cross as rusqlite's `ValueRef` in both directions, so that `row.get::<T>` and
//!   `params![...]` mean the same on both: integers are `BIGINT`, texts `TEXT`, blobs `BYTEA`.
//!   A query's rows are fetched whole before the first is read.
//!
//! The store's SQL is written in what both accept (`ON CONFLICT`, `IS DISTINCT FROM`,
//! `RETURNING`, `CAST(?1 AS TEXT)` where a parameter's type is otherwise unknown, `CASE` for
//! SQLite's two-argument `MAX`); `Db::is_pg` tells where the two differ. The schema is
//! `schema`'s migrations, read in PostgreSQL's types by `pg::ddl`.

use crate::{Result, StoreError};
use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlError, ToSqlOutput, Value, ValueRef};
use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use tokio_postgres::types::{IsNull, Type};

/// How many prepared statements a PostgreSQL session keeps.
const STATEMENT_CACHE: usize = 256;

/// A connection to the store's database.
pub(crate) enum Db {
    Lite(rusqlite::Connection),
    /// Boxed: a session (client, settings, statements) is several times a SQLite handle's size.
    Pg(Box<RefCell<PgConn>>),
}

/// A PostgreSQL session: the client, its prepared statements, and whether a transaction is open.
pub(crate) struct PgConn {
    pub client: crate::pg::PgClient,
    cache: HashMap<String, tokio_postgres::Statement>,
    in_tx: bool,
    /// A statement of the open transaction failed: PostgreSQL has aborted it, and would answer
    /// a `COMMIT` by rolling back without an error. `end` refuses to report that as a commit.
    aborted: bool,
}

impl PgConn {
    pub fn new(client: crate::pg::PgClient) -> PgConn {
        PgConn {
            client,
            cache: HashMap::new(),
            in_tx: false,
            aborted: false,
        }
    }

    /// Opens the session again when its connection ended between transactions (a restart of
    /// the server): its prepared statements went with it. Inside a transaction the error stays:
    /// what the transaction wrote is gone, and its caller must hear so.
    fn revive(&mut self) -> Result<()> {
        if !self.in_tx && self.client.revive()? {
            self.cache.clear();
        }
        Ok(())
    }

    /// Remembers that a statement inside the open transaction failed.
    fn note(&mut self, failed: bool) {
        if failed && self.in_tx {
            self.aborted = true;
        }
    }

    fn prepared(&mut self, sql: &str) -> Result<tokio_postgres::Statement> {
        self.revive()?;
        if let Some(stmt) = self.cache.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare(&pg_text(sql))?;
        if self.cache.len() >= STATEMENT_CACHE {
            // Statements made for lists of every length (`IN (?, ?, ...)`) must not pile up.
            self.cache.clear();
        }
        self.cache.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }
}

impl Db {
    /// True on PostgreSQL: for the few statements whose text differs.
    pub fn is_pg(&self) -> bool {
        matches!(self, Db::Pg(_))
    }

    /// The SQLite connection, for what only SQLite has (pragmas, hooks, backup).
    pub fn lite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Db::Lite(conn) => Some(conn),
            Db::Pg(_) => None,
        }
    }

    fn pg(&self) -> Option<RefMut<'_, PgConn>> {
        match self {
            Db::Lite(_) => None,
            Db::Pg(cell) => Some(cell.borrow_mut()),
        }
    }

    /// Runs statements without parameters (`BEGIN`, `COMMIT`, DDL).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Db::Lite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Pg(cell) => {
                let mut pg = cell.borrow_mut();
                pg.revive()?;
                let out = pg.client.batch_execute(sql);
                pg.note(out.is_err());
                Ok(out?)
            }
        }
    }

    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'_>> {
        match self {
            Db::Lite(conn) => Ok(Stmt::Lite(conn.prepare_cached(sql)?)),
            Db::Pg(cell) => {
                let mut pg = cell.borrow_mut();
                let out = pg.prepared(sql);
                pg.note(out.is_err());
                drop(pg);
                Ok(Stmt::Pg { cell, stmt: out? })
            }
        }
    }

    /// `prepare_cached`: PostgreSQL keeps every statement it prepared anyway.
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'_>> {
        self.prepare_cached(sql)
    }

    pub fn execute(&self, sql: &str, args: impl Args) -> Result<usize> {
        self.prepare_cached(sql)?.execute(args)
    }

    pub fn query_row<T>(
        &self,
        sql: &str,
        args: impl Args,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        self.prepare_cached(sql)?.query_row(args, f)
    }

    /// True when no transaction is open.
    pub fn is_autocommit(&self) -> bool {
        match self {
            Db::Lite(conn) => conn.is_autocommit(),
            Db::Pg(cell) => !cell.borrow().in_tx,
        }
    }

    /// Opens a write transaction: SQLite takes the write lock up front (`IMMEDIATE`).
    pub fn begin_write(&self) -> Result<Tx<'_>> {
        self.begin(match self {
            Db::Lite(_) => "BEGIN IMMEDIATE",
            Db::Pg(_) => "BEGIN",
        })
    }

    /// Opens a read transaction whose reads all come from one snapshot.
    pub fn begin_read(&self) -> Result<Tx<'_>> {
        self.begin(match self {
            Db::Lite(_) => "BEGIN",
            Db::Pg(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ",
        })
    }

    fn begin(&self, sql: &str) -> Result<Tx<'_>> {
        self.execute_batch(sql)?;
        self.set_in_tx(true);
        Ok(Tx {
            db: self,
            done: false,
        })
    }

    /// Ends the open transaction: `COMMIT` or `ROLLBACK`.
    pub fn end(&self, commit: bool) -> Result<()> {
        let aborted = self.pg().is_some_and(|pg| pg.aborted);
        let out = self.execute_batch(if commit && !aborted {
            "COMMIT"
        } else {
            "ROLLBACK"
        });
        if out.is_ok() || self.is_pg() {
            // A failed COMMIT on PostgreSQL ends the transaction all the same.
            self.set_in_tx(false);
        }
        if commit && aborted {
            return Err(StoreError::Aborted);
        }
        out
    }

    fn set_in_tx(&self, open: bool) {
        if let Some(mut pg) = self.pg() {
            pg.in_tx = open;
            pg.aborted = false;
        }
    }

    /// Runs `f` inside a savepoint of the open transaction: kept when `f` succeeds, undone
    /// alone when it fails.
    pub fn savepoint<T>(&self, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        self.execute_batch("SAVEPOINT minutely")?;
        match f(self) {
            Ok(out) => {
                self.execute_batch("RELEASE minutely")?;
                Ok(out)
            }
            Err(e) => {
                if self
                    .execute_batch("ROLLBACK TO minutely; RELEASE minutely")
                    .is_ok()
                {
                    // The transaction is as it was before the savepoint.
                    if let Some(mut pg) = self.pg() {
                        pg.aborted = false;
                    }
                }
                Err(e)
            }
        }
    }
}

/// An open transaction: rolled back when dropped without `commit`.
pub(crate) struct Tx<'a> {
    db: &'a Db,
    done: bool,
}

impl Tx<'_> {
    /// Leaves the transaction open for the caller to end (`Db::end`).
    pub fn keep_open(mut self) {
        self.done = true;
    }

    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.db.end(true)
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done && !self.db.is_autocommit() {
            let _ = self.db.end(false);
        }
    }
}

/// A prepared statement.
pub(crate) enum Stmt<'a> {
    Lite(rusqlite::CachedStatement<'a>),
    Pg {
        cell: &'a RefCell<PgConn>,
        stmt: tokio_postgres::Statement,
    },
}

impl Stmt<'_> {
    pub fn execute(&mut self, args: impl Args) -> Result<usize> {
        match self {
            Stmt::Lite(stmt) => args.with(&mut |refs| Ok(stmt.execute(refs)?)),
            Stmt::Pg { cell, stmt } => args.with(&mut |refs| {
                let out = pg_call(refs, |params| cell.borrow().client.execute(stmt, params));
                cell.borrow_mut().note(out.is_err());
                let n = out?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }),
        }
    }

    /// The rows of the query. On PostgreSQL they are all fetched before this returns.
    pub fn query(&mut self, args: impl Args) -> Result<Rows<'_>> {
        match self {
            Stmt::Lite(stmt) => {
                // Bound here, stepped by `Rows::next`: rusqlite's `Rows` borrows the statement.
                args.with(&mut |refs| {
                    let expected = stmt.parameter_count();
                    if refs.len() != expected {
                        let e = rusqlite::Error::InvalidParameterCount(refs.len(), expected);
                        return Err(e.into());
                    }
                    for (i, value) in refs.iter().enumerate() {
                        stmt.raw_bind_parameter(i + 1, value)?;
                    }
                    Ok(())
                })?;
                Ok(Rows::Lite(stmt.raw_query()))
            }
            Stmt::Pg { cell, stmt } => args.with(&mut |refs| {
                let out = pg_call(refs, |params| cell.borrow().client.query(stmt, params));
                cell.borrow_mut().note(out.is_err());
                let rows = out?;
                Ok(Rows::Pg {
                    rows: rows.into_iter(),
                    current: None,
                })
            }),
        }
    }

    pub fn query_row<T>(
        &mut self,
        args: impl Args,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut rows = self.query(args)?;
        match rows.next()? {
            Some(row) => f(&row).map_err(Into::into),
            None => Err(rusqlite::Error::QueryReturnedNoRows.into()),
        }
    }

    /// Every row mapped by `f`, in order (collected before they are returned).
    pub fn query_map<T>(
        &mut self,
        args: impl Args,
        mut f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut rows = self.query(args)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(f(&row).map_err(Into::into));
        }
        Ok(out.into_iter())
    }
}

/// The rows of a query, read one at a time.
pub(crate) enum Rows<'a> {
    Lite(rusqlite::Rows<'a>),
    Pg {
        rows: std::vec::IntoIter<tokio_postgres::Row>,
        current: Option<tokio_postgres::Row>,
    },
}

impl Rows<'_> {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match self {
            Rows::Lite(rows) => Ok(rows.next()?.map(Row::Lite)),
            Rows::Pg { rows, current } => {
                *current = rows.next();
                Ok(current.as_ref().map(Row::Pg))
            }
        }
    }
}

/// One row: its cells read as rusqlite reads them (`FromSql`), by index or by column name.
pub(crate) enum Row<'a> {
    Lite(&'a rusqlite::Row<'a>),
    Pg(&'a tokio_postgres::Row),
}

/// A column: its index or its name.
pub(crate) trait Col: rusqlite::RowIndex + Copy + std::fmt::Display {
    fn pg_index(self, row: &tokio_postgres::Row) -> Option<usize>;
}

impl Col for usize {
    fn pg_index(self, row: &tokio_postgres::Row) -> Option<usize> {
        (self < row.len()).then_some(self)
    }
}

impl Col for &str {
    fn pg_index(self, row: &tokio_postgres::Row) -> Option<usize> {
        row.columns().iter().position(|c| c.name() == self)
    }
}

impl Row<'_> {
    pub fn get<I: Col, T: FromSql>(&self, col: I) -> rusqlite::Result<T> {
        match self {
            Row::Lite(row) => row.get(col),
            Row::Pg(row) => {
                let i = col
                    .pg_index(row)
                    .ok_or_else(|| rusqlite::Error::InvalidColumnName(col.to_string()))?;
                let value = pg_cell(row, i)?;
                T::column_result(ValueRef::from(&value)).map_err(|e| conversion(i, &value, e))
            }
        }
    }
}

fn conversion(i: usize, value: &Value, e: FromSqlError) -> rusqlite::Error {
    match e {
        FromSqlError::InvalidType => {
            rusqlite::Error::InvalidColumnType(i, format!("column {i}"), value.data_type())
        }
        other => rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), Box::new(other)),
    }
}

/// A PostgreSQL cell as the SQLite value it stands for.
fn pg_cell(row: &tokio_postgres::Row, i: usize) -> rusqlite::Result<Value> {
    let ty = row.columns()[i].type_().clone();
    // The cell as `T`, NULL as `None`.
    fn cell<'r, T: tokio_postgres::types::FromSql<'r>>(
        row: &'r tokio_postgres::Row,
        i: usize,
    ) -> rusqlite::Result<Option<T>> {
        row.try_get::<_, Option<T>>(i).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Null, Box::new(e))
        })
    }
    let value = match ty {
        Type::INT8 => cell::<i64>(row, i)?.map(Value::Integer),
        Type::INT4 => cell::<i32>(row, i)?.map(|v| Value::Integer(v.into())),
        Type::INT2 => cell::<i16>(row, i)?.map(|v| Value::Integer(v.into())),
        Type::BOOL => cell::<bool>(row, i)?.map(|v| Value::Integer(v.into())),
        Type::FLOAT8 => cell::<f64>(row, i)?.map(Value::Real),
        Type::BYTEA => cell::<Vec<u8>>(row, i)?.map(Value::Blob),
        _ => cell::<String>(row, i)?.map(Value::Text),
    };
    Ok(value.unwrap_or(Value::Null))
}

/// `Option` of a query that must find one row: none found is `None` (rusqlite's
/// `OptionalExtension` for the store's `Result`).
pub(crate) trait Optional<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> Optional<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A statement's parameters: what `params![...]` makes, an array of values, `()`, or a list of
/// owned values (instead of `params_from_iter`).
pub(crate) trait Args {
    /// Calls `f` with the parameters as rusqlite takes them.
    fn with<R>(&self, f: &mut dyn FnMut(&[&dyn ToSql]) -> Result<R>) -> Result<R>;
}

impl Args for &[&dyn ToSql] {
    fn with<R>(&self, f: &mut dyn FnMut(&[&dyn ToSql]) -> Result<R>) -> Result<R> {
        f(self)
    }
}

impl Args for () {
    fn with<R>(&self, f: &mut dyn FnMut(&[&dyn ToSql]) -> Result<R>) -> Result<R> {
        f(&[])
    }
}

impl<T: ToSql, const N: usize> Args for [T; N] {
    fn with<R>(&self, f: &mut dyn FnMut(&[&dyn ToSql]) -> Result<R>) -> Result<R> {
        let refs: [&dyn ToSql; N] = std::array::from_fn(|i| &self[i] as &dyn ToSql);
        f(&refs)
    }
}

impl Args for Vec<Value> {
    fn with<R>(&self, f: &mut dyn FnMut(&[&dyn ToSql]) -> Result<R>) -> Result<R> {
        let refs: Vec<&dyn ToSql> = self.iter().map(|v| v as &dyn ToSql).collect();
        f(&refs)
    }
}

/// Calls `f` with rusqlite's parameters as PostgreSQL's.
fn pg_call<T>(
    refs: &[&dyn ToSql],
    f: impl FnOnce(
        &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> std::result::Result<T, tokio_postgres::Error>,
) -> Result<T> {
    let values = refs
        .iter()
        .map(|r| r.to_sql())
        .collect::<rusqlite::Result<Vec<ToSqlOutput<'_>>>>()?;
    let args: Vec<PgArg<'_>> = values
        .iter()
        .map(|v| {
            PgArg(match v {
                ToSqlOutput::Borrowed(r) => *r,
                ToSqlOutput::Owned(o) => o.into(),
                _ => ValueRef::Null,
            })
        })
        .collect();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args
        .iter()
        .map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    Ok(f(&params)?)
}

/// A SQLite value sent as the PostgreSQL type the statement expects in its place.
#[derive(Debug)]
struct PgArg<'a>(ValueRef<'a>);

impl tokio_postgres::types::ToSql for PgArg<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> PgResult {
        match self.0 {
            ValueRef::Null => Ok(IsNull::Yes),
            ValueRef::Integer(i) => match *ty {
                Type::INT4 => put(i32::try_from(i)?, ty, out),
                Type::INT2 => put(i16::try_from(i)?, ty, out),
                Type::BOOL => put(i != 0, ty, out),
                Type::FLOAT8 => put(i as f64, ty, out),
                Type::TEXT | Type::VARCHAR => put(i.to_string(), ty, out),
                _ => put(i, ty, out),
            },
            ValueRef::Real(r) => put(r, ty, out),
            ValueRef::Text(t) => put(std::str::from_utf8(t)?, ty, out),
            ValueRef::Blob(b) => put(b, ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

type PgResult = std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>>;

fn put<T: tokio_postgres::types::ToSql>(
    value: T,
    ty: &Type,
    out: &mut bytes::BytesMut,
) -> PgResult {
    value.to_sql(ty, out)
}

/// SQLite's placeholders (`?`, `?NNN`) as PostgreSQL's (`$N`), outside quotes.
pub(crate) fn pg_text(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    // A bare `?` takes the number after the largest one so far, as in SQLite.
    let mut largest = 0usize;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(|d| d.is_ascii_digit()) {
                    digits.push(d);
                }
                let n = if digits.is_empty() {
                    largest.saturating_add(1)
                } else {
                    digits.parse().unwrap_or(usize::MAX)
                };
                largest = largest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pg_text;

    #[test]
    fn placeholders_become_numbered_outside_quotes() {
        assert_eq!(
            pg_text("SELECT a FROM t WHERE b = ?1 AND c = '?' AND d IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)"
        );
        assert_eq!(pg_text("x = ?12 OR y = \"?\""), "x = $12 OR y = \"?\"");
    }
}

#[cfg(test)]
mod postgres_tests {
    use super::Db;
    use crate::StoreError;

    /// A session on a new database of the test server, when one is named.
    fn session() -> Option<Db> {
        let server = minutely_testkit::stores::postgres_server()?;
        let url = minutely_testkit::stores::new_database(&server);
        Some(crate::pg::open_read_write(&url).expect("a session"))
    }

    #[test]
    fn a_transaction_with_a_failed_statement_is_not_reported_committed() {
        let Some(db) = session() else { return };
        db.execute_batch("CREATE TABLE t (n BIGINT PRIMARY KEY)")
            .unwrap();
        let tx = db.begin_write().unwrap();
        tx.execute("INSERT INTO t (n) VALUES (?1)", [1i64]).unwrap();
        assert!(tx.execute("INSERT INTO t (n) VALUES (?1)", [1i64]).is_err());
        tx.keep_open();
        assert!(matches!(db.end(true), Err(StoreError::Aborted)));
        let n: i64 = db
            .query_row("SELECT COUNT(*) FROM t", (), |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "nothing of it was committed");
    }

    #[test]
    fn a_failure_undone_by_its_savepoint_leaves_the_rest_to_commit() {
        let Some(db) = session() else { return };
        db.execute_batch("CREATE TABLE t (n BIGINT PRIMARY KEY)")
            .unwrap();
        let tx = db.begin_write().unwrap();
        tx.execute("INSERT INTO t (n) VALUES (?1)", [1i64]).unwrap();
        let failed = tx.savepoint(|db| db.execute("INSERT INTO t (n) VALUES (?1)", [1i64]));
        assert!(failed.unwrap_err().is_constraint());
        tx.execute("INSERT INTO t (n) VALUES (?1)", [2i64]).unwrap();
        tx.commit().unwrap();
        let n: i64 = db
            .query_row("SELECT COUNT(*) FROM t", (), |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }
}
