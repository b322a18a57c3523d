-- Account administration: an admin can disable an account. A disabled
-- account cannot sign in and its sessions stop counting at once.
-- Keep in step with ../postgres/0005_account_admin.sql.

-- When an admin disabled the account; NULL while it is in use.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
