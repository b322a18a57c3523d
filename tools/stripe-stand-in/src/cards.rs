//! Stripe's documented test cards, as tokens (`tok_…`) and as ready-made
//! payment methods (`pm_card_…`), and what charging each one does.

/// What charging a test card does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Card {
    /// The charge succeeds.
    Good {
        brand: &'static str,
        last4: &'static str,
    },
    /// The charge is declined (`card_declined` with this `decline_code`).
    Declined { decline_code: &'static str },
    /// The charge fails with `processing_error` (a new attempt may succeed).
    ProcessingError,
}

/// The test card a token or test payment method stands for; `None` for
/// anything Stripe would answer "No such token" to.
pub fn card(reference: &str) -> Option<Card> {
    let name = reference
        .strip_prefix("tok_")
        .or_else(|| reference.strip_prefix("pm_card_"))?;
    let good = |brand, last4| Some(Card::Good { brand, last4 });
    match name {
        "visa" => good("visa", "4242"),
        "visa_debit" => good("visa", "5556"),
        "mastercard" => good("mastercard", "4444"),
        "amex" => good("amex", "8431"),
        "discover" => good("discover", "1117"),
        "chargeDeclined" => Some(Card::Declined {
            decline_code: "generic_decline",
        }),
        "chargeDeclinedInsufficientFunds" => Some(Card::Declined {
            decline_code: "insufficient_funds",
        }),
        // Stripe's name, and the shorter one Tessera's built-in gateway uses.
        "chargeDeclinedProcessingError" | "processing_error" => Some(Card::ProcessingError),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_test_methods_name_the_same_cards() {
        assert_eq!(card("tok_visa"), card("pm_card_visa"));
        assert!(matches!(
            card("tok_mastercard"),
            Some(Card::Good { last4: "4444", .. })
        ));
        assert!(matches!(
            card("tok_chargeDeclined"),
            Some(Card::Declined { .. })
        ));
        assert_eq!(card("tok_processing_error"), Some(Card::ProcessingError));
        assert_eq!(card("tok_unknown"), None);
        assert_eq!(card("pm_123"), None);
    }
}
