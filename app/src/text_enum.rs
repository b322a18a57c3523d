//! `as_str` and `parse` for enums stored and sent as text, generated from
//! one list so the two directions cannot drift apart.

/// For a fieldless enum: `ALL` (every variant, in order), `as_str` (its
/// text in the database and on the wire) and `parse` (`None` for any other
/// text: an unknown status is an error to the caller, never a default).
///
/// ```
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// enum Light { Red, Green }
/// app::text_enum!(Light { Red => "red", Green => "green" });
/// assert_eq!(Light::parse("green"), Some(Light::Green));
/// assert_eq!(Light::Red.as_str(), "red");
/// assert_eq!(Light::parse("blue"), None);
/// ```
#[macro_export]
macro_rules! text_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}
