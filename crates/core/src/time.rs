//! Timestamps as OpenStack writes them.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Keystone's format: microseconds and a `Z`, e.g. `2015-08-27T09:49:58.000000Z`.
pub fn keystone(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Cinder's format: microseconds and no zone, e.g. `2018-11-28T06:21:12.715987`.
pub fn micros_no_zone(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Seconds and a `Z`, e.g. `2015-08-27T09:49:58Z` (Keystone v2.0, Nova, Glance).
pub fn iso_seconds(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Microseconds since the epoch: the resolution tokens and revocations compare at.
pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}
