//! Microversions as Nova and Cinder read them: `OpenStack-API-Version:
//! <service> X.Y` (or `latest`), bounded by what the service serves. Each
//! service's layer reads the version once and puts it in the request's
//! extensions, where handlers take it as an argument.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The text `service`'s entry of `OpenStack-API-Version` names, if any.
pub fn requested(headers: &HeaderMap, service: &str) -> Option<String> {
    headers.get_all("openstack-api-version").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).find_map(
        |item| {
            let mut parts = item.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(s), Some(version)) if s.eq_ignore_ascii_case(service) => Some(version.to_owned()),
                _ => None,
            }
        },
    )
}

/// Reads a requested version (`latest` is `max`): 400 when it is not
/// `Major.Minor`, 406 outside `min..=max`, in the words of both services.
pub fn parse(text: &str, min: Version, max: Version) -> Result<Version, Error> {
    if text.eq_ignore_ascii_case("latest") {
        return Ok(max);
    }
    let number = |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten();
    let parsed = text.split_once('.').and_then(|(a, b)| Some(Version { major: number(a)?, minor: number(b)? }));
    let Some(version) = parsed else {
        return Err(Error::BadRequest(format!(
            "API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
        )));
    };
    if version < min || version > max {
        return Err(Error::NotAcceptable(format!(
            "Version {version} is not supported by the API. Minimum is {min} and maximum is {max}."
        )));
    }
    Ok(version)
}

impl Version {
    /// A method that exists from `since` on: below it, the bare 404 both
    /// services answer.
    pub fn require(self, since: Version) -> Result<(), Error> {
        if self >= since {
            Ok(())
        } else {
            Err(Error::NotFound("The resource could not be found.".into()))
        }
    }

    /// For a method removed at `until`: the same bare 404 from then on.
    pub fn require_before(self, until: Version) -> Result<(), Error> {
        if self < until {
            Ok(())
        } else {
            Err(Error::NotFound("The resource could not be found.".into()))
        }
    }
}

/// The version the service's layer read. A route outside every version
/// layer has none: it is answered as the lowest version there is.
impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Version>().copied().unwrap_or(Version { major: 0, minor: 0 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn versions_are_read_for_their_service_and_bounded() {
        let mut h = HeaderMap::new();
        h.append("openstack-api-version", HeaderValue::from_static("compute 2.50, volume 3.42"));
        assert_eq!(requested(&h, "volume").as_deref(), Some("3.42"));
        assert_eq!(requested(&h, "compute").as_deref(), Some("2.50"));
        assert_eq!(requested(&h, "image"), None);
        let (min, max) = (Version { major: 3, minor: 0 }, Version { major: 3, minor: 71 });
        assert_eq!(parse("3.42", min, max).unwrap(), Version { major: 3, minor: 42 });
        assert_eq!(parse("latest", min, max).unwrap(), max);
        let e = parse("3.99", min, max).unwrap_err();
        assert_eq!(e.to_string(), "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71.");
        assert!(matches!(parse("3.x", min, max), Err(Error::BadRequest(_))));
        assert!(matches!(parse("3.-1", min, max), Err(Error::BadRequest(_))));
    }
}
