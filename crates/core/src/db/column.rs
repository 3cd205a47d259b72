//! Domain values in TEXT columns on both engines: a store's row types hold
//! enums and structures, not the strings they are kept as, and decode them
//! once, where the row is read.
//!
//! A type says how it is written and read with [`TextColumn`], and
//! [`text_column!`](crate::text_column) makes it a column type of both
//! engines and a bind value. [`JsonText`] keeps any serde value as JSON text.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Type};

use super::{Bind, Param, ParamType};

/// A value kept as text.
pub trait TextColumn: Sized {
    fn to_text(&self) -> String;
    fn from_text(text: &str) -> Result<Self, String>;
}

/// Makes a [`TextColumn`] type a column type of both engines and a value
/// [`Bind`](crate::db::Bind) takes.
#[macro_export]
macro_rules! text_column {
    ($ty:ty) => {
        impl<DB: $crate::db::sqlx::Database> $crate::db::sqlx::Type<DB> for $ty
        where
            str: $crate::db::sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as $crate::db::sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as $crate::db::sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: $crate::db::sqlx::Database> $crate::db::sqlx::Decode<'r, DB> for $ty
        where
            &'r str: $crate::db::sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as $crate::db::sqlx::Database>::ValueRef<'r>,
            ) -> ::std::result::Result<Self, $crate::db::sqlx::error::BoxDynError> {
                let text = <&str as $crate::db::sqlx::Decode<DB>>::decode(value)?;
                Ok(<$ty as $crate::db::TextColumn>::from_text(text)?)
            }
        }

        impl $crate::db::Bind for $ty {
            fn param(&self) -> $crate::db::Param {
                $crate::db::Param::Text($crate::db::TextColumn::to_text(self))
            }
            fn param_type() -> $crate::db::ParamType {
                $crate::db::ParamType::Text
            }
        }
    };
}

/// Declares an enum of an API's names for something (Nova's vm states,
/// Cinder's volume statuses): each variant's text, `ALL`, `parse`, its
/// serialization as that text, and a column type kept as the text.
#[macro_export]
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl $crate::db::TextColumn for $name {
            fn to_text(&self) -> String {
                self.as_str().to_owned()
            }
            fn from_text(text: &str) -> Result<Self, String> {
                $name::parse(text).ok_or_else(|| format!("{text:?} is not a {}", stringify!($name)))
            }
        }

        $crate::text_column!($name);
    };
}

/// A serde value kept as JSON text (a flavor's copy, tags, metadata); an
/// empty column reads as the value's default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct JsonText<T>(pub T);

impl<T> std::ops::Deref for JsonText<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for JsonText<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Serialize + DeserializeOwned + Default> TextColumn for JsonText<T> {
    fn to_text(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }
    fn from_text(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(JsonText(T::default()));
        }
        serde_json::from_str(text).map(JsonText).map_err(|e| format!("a stored JSON value is unreadable: {e}"))
    }
}

impl<DB: Database, T> Type<DB> for JsonText<T>
where
    str: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <str as Type<DB>>::type_info()
    }
    fn compatible(ty: &DB::TypeInfo) -> bool {
        <str as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database, T: Serialize + DeserializeOwned + Default> Decode<'r, DB> for JsonText<T>
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<DB>>::decode(value)?;
        Ok(Self::from_text(text)?)
    }
}

/// Also for a borrowed value: `JsonText(&tags[..])`.
impl<T: Serialize> Bind for JsonText<T> {
    fn param(&self) -> Param {
        Param::Text(serde_json::to_string(&self.0).unwrap_or_default())
    }
    fn param_type() -> ParamType {
        ParamType::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_reads_what_it_writes_and_an_empty_column_as_the_default() {
        let tags = JsonText(vec!["a".to_owned(), "b\"c".to_owned()]);
        assert_eq!(JsonText::<Vec<String>>::from_text(&tags.to_text()).unwrap(), tags);
        assert!(JsonText::<Vec<String>>::from_text("").unwrap().is_empty());
        assert!(JsonText::<Vec<String>>::from_text("{").is_err());
    }
}
