//! The `server` command line. With no subcommand it serves the site (as
//! cargo-leptos runs it); a subcommand is an operator task that runs
//! (against the same `DATABASE_URL`, where it needs a database) and exits.
//! Each task is one variant of [`Command`], so the next one (a backup, say)
//! slots in beside `admin`.

use crate::clock::now_ms;
use crate::config::Config;
use crate::staff::members;
use crate::store::{Store, StoreError};
use app::error::ApiError;
use app::types::Role;
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "server",
    about = "Tessera ticketing server: serves the site, or runs an operator command"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Admin accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Prints the OpenAPI document that `GET /api/openapi.json` serves
    /// (`scripts/openapi.sh` keeps a copy in `docs/openapi.json`).
    Openapi,
    /// Writes a consistent copy of the SQLite database at DATABASE_URL to
    /// FILE while the server keeps running (`VACUUM INTO`). FILE must not
    /// exist. Back up the ticket-signing key (TESSERA_TICKET_KEY_FILE) too:
    /// without it, issued tickets and sessions cannot be verified. For
    /// PostgreSQL use `pg_dump` (see the README's "Production" section).
    Backup {
        /// Where to write the copy (a new file).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Creates an admin account in the database at DATABASE_URL (migrating
    /// it first), e.g. a deployment's first. Refuses an email that already
    /// has an account. The password is read from --password-file, else
    /// from standard input (asked for without echo on a terminal); it is
    /// never taken as an argument, where other users and shell history see it.
    Create {
        /// The admin's email; they sign in with it.
        #[arg(long)]
        email: String,
        /// A file whose content (one trailing newline removed) is the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// The name shown for the account.
        #[arg(long, default_value = "Administrator")]
        display_name: String,
    },
}

/// Why an operator command failed; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read the password: {0}")]
    Password(std::io::Error),
    #[error("{0}")]
    Refused(ApiError),
    #[error("cannot write the OpenAPI document: {0}")]
    Openapi(serde_json::Error),
    #[error("backup: {0}")]
    Backup(String),
}

impl From<ApiError> for CommandError {
    fn from(error: ApiError) -> Self {
        Self::Refused(error)
    }
}

/// Runs an operator command; what it did is printed on standard output.
pub async fn run(command: Command, config: &Config) -> Result<(), CommandError> {
    match command {
        Command::Admin(AdminCommand::Create {
            email,
            password_file,
            display_name,
        }) => create_admin(config, &email, password_file.as_deref(), &display_name).await,
        Command::Openapi => {
            println!("{}", openapi_document()?);
            Ok(())
        }
        Command::Backup { file } => backup(config, &file).await,
    }
}

/// `server backup FILE`: SQLite's `VACUUM INTO` reads the database in one
/// transaction, so the copy is consistent, and writers carry on meanwhile.
async fn backup(config: &Config, file: &Path) -> Result<(), CommandError> {
    if file.exists() {
        return Err(CommandError::Backup(format!(
            "{} exists already; choose a new file",
            file.display()
        )));
    }
    let store = Store::connect(&config.database_url).await?;
    let result = match &store {
        Store::Sqlite(pool, _) => {
            let target = file.to_str().ok_or_else(|| {
                CommandError::Backup(format!("{} is not a UTF-8 path", file.display()))
            })?;
            sqlx::query("VACUUM INTO ?")
                .bind(target)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(|error| CommandError::Backup(error.to_string()))
        }
        Store::Postgres(_) => Err(CommandError::Backup(
            "the database is PostgreSQL: back it up with pg_dump, or continuous archiving \
             for point-in-time recovery (README, \"Production\")"
                .into(),
        )),
    };
    store.close().await;
    result?;
    println!(
        "database copied to {}; keep the ticket-signing key with it ({})",
        file.display(),
        config.ticket_key_file.display()
    );
    Ok(())
}

/// The API's OpenAPI document as `GET /api/openapi.json` serves it, in
/// readable JSON. Through `serde_json::Value`, whose objects keep their keys
/// sorted: a link's fields live in a hash map, and the committed copy must
/// not change order from one run to the next.
pub fn openapi_document() -> Result<String, CommandError> {
    use utoipa::OpenApi;
    serde_json::to_value(crate::web::ApiDoc::openapi())
        .and_then(|document| serde_json::to_string_pretty(&document))
        .map_err(CommandError::Openapi)
}

async fn create_admin(
    config: &Config,
    email: &str,
    password_file: Option<&Path>,
    display_name: &str,
) -> Result<(), CommandError> {
    let password = match password_file {
        Some(path) => read_password_file(path)?,
        None => read_password_stdin(email)?,
    };
    // The registration rules, checked before the database is touched.
    crate::validation::validate_email(email)?;
    crate::validation::validate_password(&password)?;
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let created =
        members::create_account(&store, now_ms(), email, password, display_name, Role::Admin).await;
    store.close().await;
    let id = created?;
    println!(
        "admin account {id} created for {}",
        email.trim().to_lowercase()
    );
    Ok(())
}

/// Removes the one line break an editor or `echo` leaves at the end.
fn without_final_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

fn read_password_file(path: &Path) -> Result<String, CommandError> {
    std::fs::read_to_string(path)
        .map(without_final_newline)
        .map_err(CommandError::Password)
}

/// One line of standard input, or, on a terminal, a prompt answered twice
/// without echo.
fn read_password_stdin(email: &str) -> Result<String, CommandError> {
    if std::io::stdin().is_terminal() {
        let password = rpassword::prompt_password(format!("Password for {email}: "))
            .map_err(CommandError::Password)?;
        let again =
            rpassword::prompt_password("The same again: ").map_err(CommandError::Password)?;
        if password != again {
            return Err(ApiError::validation("the two passwords differ").into());
        }
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(CommandError::Password)?;
    Ok(without_final_newline(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_final_line_break_is_not_part_of_the_password() {
        assert_eq!(without_final_newline("secret pass\n".into()), "secret pass");
        assert_eq!(
            without_final_newline("secret pass\r\n".into()),
            "secret pass"
        );
        assert_eq!(without_final_newline("secret pass".into()), "secret pass");
        assert_eq!(without_final_newline("pass \n\n".into()), "pass \n");
    }

    #[test]
    fn the_printed_openapi_document_is_the_served_one() {
        let printed: serde_json::Value =
            serde_json::from_str(&openapi_document().expect("document")).expect("JSON");
        let served = serde_json::to_value(<crate::web::ApiDoc as utoipa::OpenApi>::openapi())
            .expect("served document");
        assert_eq!(printed, served);
        assert!(printed["paths"]["/api/holds/{id}/purchase"]["post"].is_object());
    }

    /// `docs/openapi.json` is what integrators read without a server: it
    /// must be the document the code builds (`scripts/openapi.sh` writes it).
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openapi.json"))
                .expect("JSON");
        let generated: serde_json::Value =
            serde_json::from_str(&openapi_document().expect("document")).expect("JSON");
        assert!(
            committed == generated,
            "docs/openapi.json is out of date: run scripts/openapi.sh"
        );
    }

    #[test]
    fn plain_server_serves_and_a_password_is_never_an_argument() {
        let cli = Cli::try_parse_from(["server"]).expect("no arguments");
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from(["server", "admin", "create", "--email", "a@b.test"])
            .expect("admin create");
        assert!(matches!(
            cli.command,
            Some(Command::Admin(AdminCommand::Create { .. }))
        ));
        let cli = Cli::try_parse_from(["server", "backup", "copy.db"]).expect("backup");
        assert!(matches!(cli.command, Some(Command::Backup { .. })));
        let cli = Cli::try_parse_from(["server", "openapi"]).expect("openapi");
        assert!(matches!(cli.command, Some(Command::Openapi)));
        assert!(Cli::try_parse_from([
            "server",
            "admin",
            "create",
            "--email",
            "a@b.test",
            "--password",
            "hunter2hunter2"
        ])
        .is_err());
    }
}
