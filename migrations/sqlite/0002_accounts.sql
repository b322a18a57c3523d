-- Accounts: signed-in sessions, email confirmation, the saved card's
-- processor customer, and which purchases were made while signed in.
-- Keep in step with ../postgres/0002_accounts.sql.

-- A signed-in browser. The cookie carries a random id; only its SHA-256 is
-- stored, so a copy of the database does not sign anyone in.
CREATE TABLE auth_sessions (
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX auth_sessions_by_user ON auth_sessions (user_id);

-- NULL until the owner proves the address; guest purchases made with it
-- join the account only then.
ALTER TABLE users ADD COLUMN email_confirmed_at INTEGER;
-- SHA-256 of the outstanding confirmation token, if any.
ALTER TABLE users ADD COLUMN confirm_token_hash TEXT;
-- The processor's customer the saved card is attached to.
ALTER TABLE users ADD COLUMN payment_customer TEXT;

-- True when bought while signed in to the account (as opposed to a guest
-- checkout that only named the account's email).
ALTER TABLE purchases ADD COLUMN by_account INTEGER NOT NULL DEFAULT 0;
