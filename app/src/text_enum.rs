//! `as_str` and `parse` for enums stored and sent as text, generated from
//! one list so the two directions cannot drift apart.

/// For a fieldless enum: `ALL` (every variant, in order), `as_str` (its
/// text in the database and on the wire), `parse` (`None` for any other
/// text: an unknown status is an error to the caller, never a default) and
/// `TryFrom<String>` (the same, for decoding rows).
///
/// ```
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// enum Light { Red, Green }
/// app::text_enum!(Light { Red => "red", Green => "green" });
/// assert_eq!(Light::parse("green"), Some(Light::Green));
/// assert_eq!(Light::Red.as_str(), "red");
/// assert_eq!(Light::parse("blue"), None);
/// assert!(Light::try_from("blue".to_string()).is_err());
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

        /// For decoding a row (`#[sqlx(try_from = "String")]`): an unknown
        /// text is an error.
        impl ::core::convert::TryFrom<::std::string::String> for $name {
            type Error = ::std::string::String;

            fn try_from(raw: ::std::string::String) -> ::core::result::Result<Self, Self::Error> {
                Self::parse(&raw).ok_or_else(|| {
                    ::std::format!("unknown {} {:?}", ::core::stringify!($name), raw)
                })
            }
        }
    };
}
