//! The store: one interface over an embedded SQLite database or a PostgreSQL
//! server, chosen by the URL scheme. Queries are written once in SQL both
//! dialects accept (`$1` placeholders, `RETURNING`, partial indexes); the
//! code around them is compiled once per backend through [`on_pool!`]. The
//! SQL itself is checked when it runs, which is why the test suite runs on
//! both databases.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, QueryBuilder, SqlitePool};
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// A connection pool to one of the two supported backends. SQLite's
/// seat writer has a connection of its own besides the pool.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool, SeatWriterConnection),
    Postgres(PgPool),
}

/// The one SQLite connection the seat writer's batches run on.
///
/// In WAL mode a connection drops its whole page cache when it begins a
/// transaction and finds that another connection wrote since its last
/// one. Batches taken from the pool by turns found their connection's
/// cache stale every time, and read the stadium's seat pages again from
/// the operating system. On its own connection the writer finds its
/// cache as its last batch left it, unless another write came between.
#[derive(Clone, Debug)]
pub struct SeatWriterConnection(SqlitePool);

/// Runs the same body against whichever pool the store holds. The body is
/// compiled once per backend, so a Rust type one driver cannot bind or
/// decode is a build error; the SQL is only checked when it runs.
#[macro_export]
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool, _) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}

/// A transaction that will write. On SQLite it also holds this process's
/// turn to write to the database (see [`BeginWrite`]). It dereferences to
/// the connection, like `sqlx::Transaction`: run statements on `&mut *tx`.
pub struct WriteTx<DB: sqlx::Database> {
    tx: sqlx::Transaction<'static, DB>,
    /// Released after the commit or rollback, when this is dropped.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

/// Starts a transaction that will write.
///
/// On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`): a
/// deferred transaction that reads and then writes can fail with
/// `SQLITE_BUSY` when another writer got in between, which no busy timeout
/// can resolve. And this process's writers first queue for their turn on
/// an in-process gate, in arrival order: SQLite allows one writer at a
/// time anyway, and a writer that finds the lock taken sleeps in SQLite's
/// busy handler, which backs off 1, 2, 5, 10 … up to 100 ms — under an
/// onsale, purchases and the hold batch writer would spend most of their
/// time asleep. The busy handler still arbitrates between processes.
///
/// PostgreSQL's row locks need no help.
pub trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<WriteTx<Self::Db>, sqlx::Error>> + Send;
}

/// One write gate per SQLite database file in this process.
fn sqlite_write_gate(pool: &SqlitePool) -> Arc<tokio::sync::Mutex<()>> {
    static GATES: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Mutex::default);
    let file = pool.connect_options().get_filename().to_path_buf();
    GATES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(file)
        .or_default()
        .clone()
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<WriteTx<Self::Db>, sqlx::Error>> + Send {
        begin_sqlite_write(self.clone())
    }
}

impl BeginWrite for SeatWriterConnection {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<WriteTx<Self::Db>, sqlx::Error>> + Send {
        begin_sqlite_write(self.0.clone())
    }
}

/// Takes this process's turn to write to the pool's database file, then
/// begins on one of the pool's connections.
async fn begin_sqlite_write(pool: SqlitePool) -> Result<WriteTx<sqlx::Sqlite>, sqlx::Error> {
    let turn = sqlite_write_gate(&pool).lock_owned().await;
    let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    Ok(WriteTx {
        tx,
        _turn: Some(turn),
    })
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<WriteTx<Self::Db>, sqlx::Error>> + Send {
        let pool = self.clone();
        async move {
            Ok(WriteTx {
                tx: pool.begin().await?,
                _turn: None,
            })
        }
    }
}

/// How a backend is given the list of an `… IN (` clause. PostgreSQL gets
/// one array, so the statement's text is the same whatever the list's
/// length: it is parsed and planned once per connection, then only bound
/// and run (a batch's lists change length every time, and each new text
/// cost a parse, a plan and an extra round trip). SQLite gets one bound
/// parameter per value; it prepares in process, without a round trip.
pub trait BindList: sqlx::Database {
    /// Appends the ids and the closing `)`.
    fn push_ids(query: &mut QueryBuilder<'_, Self>, ids: &[i64]);
    /// Appends the texts and the closing `)`.
    fn push_texts(query: &mut QueryBuilder<'_, Self>, texts: &[&str]);
    /// Appends rows given column by column as a table to select from or
    /// join, `v`, whose columns are `v.column1`, `v.column2`, …
    fn push_rows(query: &mut QueryBuilder<'_, Self>, columns: Vec<Column>);
}

/// One column of the rows of [`BindList::push_rows`]; all of a call's
/// columns have the same length.
pub enum Column {
    Ids(Vec<i64>),
    MaybeIds(Vec<Option<i64>>),
    Texts(Vec<String>),
    MaybeTexts(Vec<Option<String>>),
    Flags(Vec<bool>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Self::Ids(values) => values.len(),
            Self::MaybeIds(values) => values.len(),
            Self::Texts(values) => values.len(),
            Self::MaybeTexts(values) => values.len(),
            Self::Flags(values) => values.len(),
        }
    }
}

impl BindList for sqlx::Sqlite {
    fn push_rows(query: &mut QueryBuilder<'_, Self>, mut columns: Vec<Column>) {
        let rows = columns.first().map_or(0, Column::len);
        query.push("(VALUES ");
        for row in 0..rows {
            query.push(if row == 0 { "(" } else { ", (" });
            let mut values = query.separated(", ");
            // Each value is bound once: texts are moved out, not copied.
            for column in &mut columns {
                match column {
                    Column::Ids(ids) => values.push_bind(ids[row]),
                    Column::MaybeIds(ids) => values.push_bind(ids[row]),
                    Column::Texts(texts) => values.push_bind(std::mem::take(&mut texts[row])),
                    Column::MaybeTexts(texts) => values.push_bind(texts[row].take()),
                    Column::Flags(flags) => values.push_bind(flags[row]),
                };
            }
            query.push(")");
        }
        query.push(") AS v");
    }

    fn push_ids(query: &mut QueryBuilder<'_, Self>, ids: &[i64]) {
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(")");
    }

    fn push_texts(query: &mut QueryBuilder<'_, Self>, texts: &[&str]) {
        let mut list = query.separated(", ");
        for text in texts {
            list.push_bind(text.to_string());
        }
        query.push(")");
    }
}

impl BindList for sqlx::Postgres {
    fn push_rows(query: &mut QueryBuilder<'_, Self>, columns: Vec<Column>) {
        let names: Vec<String> = (1..=columns.len())
            .map(|number| format!("column{number}"))
            .collect();
        query.push("UNNEST(");
        let mut arrays = query.separated(", ");
        for column in columns {
            match column {
                Column::Ids(ids) => arrays.push_bind(ids).push_unseparated("::bigint[]"),
                Column::MaybeIds(ids) => arrays.push_bind(ids).push_unseparated("::bigint[]"),
                Column::Texts(texts) => arrays.push_bind(texts).push_unseparated("::text[]"),
                Column::MaybeTexts(texts) => arrays.push_bind(texts).push_unseparated("::text[]"),
                Column::Flags(flags) => arrays.push_bind(flags).push_unseparated("::boolean[]"),
            };
        }
        query.push(") AS v(").push(names.join(", ")).push(")");
    }

    fn push_ids(query: &mut QueryBuilder<'_, Self>, ids: &[i64]) {
        query
            .push("SELECT unnest(")
            .push_bind(ids.to_vec())
            .push("::bigint[]))");
    }

    fn push_texts(query: &mut QueryBuilder<'_, Self>, texts: &[&str]) {
        let texts: Vec<String> = texts.iter().map(|text| text.to_string()).collect();
        query
            .push("SELECT unnest(")
            .push_bind(texts)
            .push("::text[]))");
    }
}

/// Appends rows given column by column as the table `v` ([`BindList`]).
pub fn push_rows<DB: BindList>(query: &mut QueryBuilder<'_, DB>, columns: Vec<Column>) {
    DB::push_rows(query, columns);
}

/// Appends the ids of an `… IN (` list and its closing `)`: the dynamic id
/// lists of holds, blocking and refunds ([`BindList`]).
pub fn push_id_list<DB: BindList>(query: &mut QueryBuilder<'_, DB>, ids: &[i64]) {
    DB::push_ids(query, ids);
}

/// A write transaction on either backend, for code that runs many
/// statements in one transaction through plain functions (the seat writer)
/// instead of one `on_pool!` block.
pub enum AnyWriteTx {
    Sqlite(WriteTx<sqlx::Sqlite>),
    Postgres(WriteTx<sqlx::Postgres>),
}

impl AnyWriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.commit().await,
            Self::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Runs the same body against whichever transaction an [`AnyWriteTx`]
/// holds, like [`on_pool!`]: `$conn` is the connection (`&mut
/// DB::Connection`), so statements run on `&mut *$conn`.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::AnyWriteTx::Sqlite(tx) => {
                let $conn: &mut sqlx::SqliteConnection = &mut *tx;
                $body
            }
            $crate::store::AnyWriteTx::Postgres(tx) => {
                let $conn: &mut sqlx::PgConnection = &mut *tx;
                $body
            }
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported DATABASE_URL scheme (use sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("could not create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
}

impl Store {
    /// Connects to `database_url` (`sqlite://path` or `postgres://…`),
    /// creating a SQLite file (and its folder) on first use.
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        if database_url.starts_with("sqlite:") {
            Self::connect_sqlite(database_url).await
        } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(database_url)?;
            let pool = PgPoolOptions::new()
                .max_connections(32)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Self::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(database_url)))
        }
    }

    async fn connect_sqlite(database_url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is synced to disk before it is acknowledged, so a
            // paid purchase survives a power cut (`docs/architecture.md`,
            // "Storage on two databases").
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // A stadium event is 50,000 seats; SQLite's default page cache
            // (2 MB per connection) kept re-reading its pages from the OS,
            // a system call each. 32 MB per connection took holds from
            // about 3,000 to 3,900 a second (BENCHMARKS.md). Mapping the
            // file into memory as well made purchases ~12 % slower.
            .pragma("cache_size", "-32768");
        let folder = options.get_filename().parent().map(|p| p.to_path_buf());
        if let Some(folder) = folder.filter(|f| !f.as_os_str().is_empty()) {
            std::fs::create_dir_all(&folder).map_err(|source| StoreError::Folder {
                path: folder.display().to_string(),
                source,
            })?;
        }
        // A connection to a local file does not drop: the ping sqlx sends
        // before lending one out was a round trip to the connection's
        // thread on every query.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        // Kept open while the store is, so that its cache stays warm.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self::Sqlite(pool, SeatWriterConnection(writer)))
    }

    /// The pool's connections: (open, idle, maximum).
    pub fn pool_use(&self) -> (u32, usize, u32) {
        on_pool!(self, pool => (pool.size(), pool.num_idle(), pool.options().get_max_connections()))
    }

    /// Applies pending migrations; start-up fails loudly if they do not apply.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(pool, _) => sqlx::migrate!("../migrations/sqlite").run(pool).await?,
            Self::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Starts a write transaction of the seat writer (see [`BeginWrite`]).
    pub async fn begin_write(&self) -> Result<AnyWriteTx, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(_, writer) => AnyWriteTx::Sqlite(writer.begin_write().await?),
            Self::Postgres(pool) => AnyWriteTx::Postgres(pool.begin_write().await?),
        })
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(..) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// A cheap round trip, for the health check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Self::Sqlite(_, writer) = self {
            writer.0.close().await;
        }
        on_pool!(self, pool => pool.close().await)
    }
}

/// Hides the password of a database URL, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/tessera"),
            "postgres://app:***@db:5432/tessera"
        );
        assert_eq!(
            redact_url("sqlite://data/tessera.db"),
            "sqlite://data/tessera.db"
        );
    }

    /// A batch's statements on PostgreSQL read the same whatever the
    /// number of ids, texts and rows they carry, so each is prepared once
    /// per connection and found in sqlx's statement cache after that.
    #[test]
    fn postgres_statements_have_one_text_whatever_the_lengths_of_their_lists() {
        let statement = |length: i64| {
            let ids: Vec<i64> = (0..length).collect();
            let texts: Vec<String> = ids.iter().map(|id| format!("session-{id}")).collect();
            let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let mut query =
                QueryBuilder::<sqlx::Postgres>::new("SELECT 1 FROM holds WHERE id IN (");
            push_id_list(&mut query, &ids);
            query.push(" AND session_id IN (");
            sqlx::Postgres::push_texts(&mut query, &text_refs);
            query.push(" AND EXISTS (SELECT 1 FROM ");
            push_rows(
                &mut query,
                vec![
                    Column::Ids(ids.clone()),
                    Column::MaybeTexts(texts.iter().cloned().map(Some).collect()),
                ],
            );
            query.push(" WHERE v.column1 = holds.id)");
            query.sql().to_string()
        };
        assert_eq!(statement(1), statement(300));
        let mut sqlite = QueryBuilder::<sqlx::Sqlite>::new("SELECT * FROM ");
        push_rows(
            &mut sqlite,
            vec![
                Column::Ids(vec![1, 2]),
                Column::Texts(vec!["a".into(), "b".into()]),
            ],
        );
        assert_eq!(sqlite.sql(), "SELECT * FROM (VALUES (?, ?), (?, ?)) AS v");
    }
}
