//! What a person types — an email address, a password, a display name —
//! checked in one place, before anything is stored or hashed. Accounts,
//! checkout and staff all use these.

use app::error::ApiError;

/// Passwords are 8 to 128 characters (of any script).
pub const PASSWORD_MIN_LEN: usize = 8;
pub const PASSWORD_MAX_LEN: usize = 128;

/// An address by [`app::types::EMAIL_PATTERN`]'s rule, at most 254
/// characters. Stored lower-cased.
pub fn validate_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    // The local part is dot-atoms: runs of these, joined by single dots.
    let atom = |atom: &str| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c))
    };
    // A domain label: 1 to 63 letters, digits or hyphens, not at either end.
    let label = |label: &str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    // app::types::EMAIL_PATTERN says the same to API clients.
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            local.len() <= 64
                && local.split('.').all(atom)
                && domain.contains('.')
                && domain.split('.').all(label)
        });
    if valid {
        Ok(email)
    } else {
        Err(ApiError::validation("email is not a valid address"))
    }
}

/// A password of an allowed length.
pub fn validate_password(password: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if (PASSWORD_MIN_LEN..=PASSWORD_MAX_LEN).contains(&length) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "password must be {} to {} characters",
            PASSWORD_MIN_LEN, PASSWORD_MAX_LEN
        )))
    }
}

/// A display name, trimmed: 1 to 80 characters, no control characters.
pub fn validate_display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if (1..=80).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(name.to_string())
    } else {
        Err(ApiError::validation(
            "display_name must be 1 to 80 characters, without control characters",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_normalised() {
        assert_eq!(
            validate_email(" Fan@Example.COM ").ok(),
            Some("fan@example.com".into())
        );
        assert!(validate_email("first.last+tag@mail-1.example.co.uk").is_ok());
        for bad in [
            "",
            "fan",
            "fan@",
            "@example.com",
            "fan@example",
            "a b@example.com",
            "a@b@c.com",
            "fan@.com",
            "fan@exam\u{7}ple.com",
            "e@sr0.net*",
            "fan@-example.com",
            "f\u{e4}n@example.com",
            "fan@example..com",
            ".@v6.example.com",
            "a..b@example.com",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_and_names_are_checked() {
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("1234567").is_err());
        assert!(validate_password(&"x".repeat(129)).is_err());
        assert_eq!(validate_display_name("  Ada  ").ok(), Some("Ada".into()));
        assert!(validate_display_name("   ").is_err());
        assert!(validate_display_name("a\u{0}b").is_err());
    }
}
