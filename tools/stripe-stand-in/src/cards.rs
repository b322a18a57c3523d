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
    /// The bank asks the buyer to authenticate (3-D Secure): confirming
    /// leaves the payment `requires_action` until the buyer passes or
    /// fails the challenge in the browser.
    ThreeDSecure,
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
        "threeDSecure2Required" => Some(Card::ThreeDSecure),
        _ => None,
    }
}

/// The test token a card number typed into the card form stands for
/// (Stripe's documented test numbers); `None` for any other number.
pub fn token_for_number(number: &str) -> Option<&'static str> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    Some(match digits.as_str() {
        "4242424242424242" => "tok_visa",
        "5555555555554444" => "tok_mastercard",
        "4000000000000002" => "tok_chargeDeclined",
        "4000000000009995" => "tok_chargeDeclinedInsufficientFunds",
        "4000002760003184" => "tok_threeDSecure2Required",
        _ => return None,
    })
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
        assert_eq!(
            token_for_number("4000 0027 6000 3184"),
            Some("tok_threeDSecure2Required")
        );
        assert_eq!(card("tok_threeDSecure2Required"), Some(Card::ThreeDSecure));
    }
}
