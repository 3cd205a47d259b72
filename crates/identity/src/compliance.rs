//! Keystone's `[security_compliance]` options, each off by default as
//! upstream: lockout after failed password logins, password history,
//! minimum password age, and a password pattern. The rules and their
//! messages are Keystone's; what they remember sits in the store.

use oxistack_core::error::{Error, Result};
use oxistack_core::time;

use crate::store;
use crate::{password, Identity};

#[derive(Clone, Debug, Default)]
pub struct SecurityCompliance {
    /// Failed password logins in a row after which the user is locked out
    /// (Keystone's `lockout_failure_attempts`).
    pub lockout_failure_attempts: Option<u32>,
    /// How long a lockout lasts, in seconds; unset, until an admin enables
    /// the user again (`lockout_duration`).
    pub lockout_duration_secs: Option<u64>,
    /// How many of a user's latest passwords, the new one included, must
    /// differ; 0 or 1 is off (`unique_last_password_count`).
    pub unique_last_password_count: u32,
    /// Days a password must be used before its user may change it again
    /// (`minimum_password_age`); admins may always reset it.
    pub minimum_password_age_days: u32,
    /// A pattern every new password must match (`password_regex`), and the
    /// words that tell users what it asks (`password_regex_description`).
    pub password_regex: Option<String>,
    pub password_regex_description: Option<String>,
}

const DAY_MICROS: i64 = 86_400_000_000;

impl SecurityCompliance {
    /// Refuses settings Keystone would refuse, at start.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(re) = &self.password_regex {
            regex_lite::Regex::new(re).map_err(|e| anyhow::anyhow!("password_regex {re:?}: {e}"))?;
        }
        if self.lockout_failure_attempts == Some(0) {
            anyhow::bail!("lockout_failure_attempts must be at least 1");
        }
        Ok(())
    }
}

impl Identity {
    /// 401 while `user_id` is locked out after failed logins.
    pub(crate) async fn refuse_locked(&self, user_id: &str) -> Result<()> {
        let Some(max) = self.config.security_compliance.lockout_failure_attempts else { return Ok(()) };
        let Some((failures, last)) = store::login_failures(&self.pool, user_id).await? else { return Ok(()) };
        if failures < i64::from(max) {
            return Ok(());
        }
        let expired = self.config.security_compliance.lockout_duration_secs.is_some_and(|secs| {
            time::micros(time::now()) - last >= i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1_000_000)
        });
        if expired {
            return store::clear_login_failures(&self.pool, user_id).await;
        }
        Err(Error::Unauthorized(format!("The account is locked for user: {user_id}.")))
    }

    /// Counts a failed password login, or forgets them after a good one.
    pub(crate) async fn record_login(&self, user_id: &str, ok: bool) -> Result<()> {
        if self.config.security_compliance.lockout_failure_attempts.is_none() {
            return Ok(());
        }
        if ok {
            store::clear_login_failures(&self.pool, user_id).await
        } else {
            store::record_login_failure(&self.pool, user_id, time::micros(time::now())).await
        }
    }

    /// An admin enabling a user lifts its lockout, as in Keystone.
    pub(crate) async fn unlock(&self, user_id: &str) -> Result<()> {
        store::clear_login_failures(&self.pool, user_id).await
    }

    /// Checks a new password of `user_id` (`None`: a user being created)
    /// against the pattern, the history and, when the user changes it
    /// itself, the minimum age; then hashes it.
    pub(crate) async fn new_password(&self, user_id: Option<&str>, new: &str, self_service: bool) -> Result<String> {
        let rules = &self.config.security_compliance;
        if let Some(pattern) = &rules.password_regex {
            let re = regex_lite::Regex::new(pattern).map_err(anyhow::Error::from)?;
            if !re.is_match(new) {
                let detail = rules.password_regex_description.clone().unwrap_or_else(|| pattern.clone());
                return Err(Error::BadRequest(format!("The password does not meet the requirements: {detail}.")));
            }
        }
        let checks_history =
            rules.unique_last_password_count > 1 || (self_service && rules.minimum_password_age_days > 0);
        if let Some(uid) = user_id.filter(|_| checks_history) {
            let wanted = rules.unique_last_password_count.saturating_sub(1).max(1);
            let history = store::password_history(&self.pool, uid, wanted).await?;
            if self_service && rules.minimum_password_age_days > 0 {
                if let Some((_, set_at)) = history.first() {
                    let age = time::micros(time::now()) - set_at;
                    let min = i64::from(rules.minimum_password_age_days) * DAY_MICROS;
                    if age < min {
                        let days_left = (min - age + DAY_MICROS - 1) / DAY_MICROS;
                        return Err(Error::BadRequest(format!(
                            "You cannot change your password at this time due to the minimum password age. Once you \
                             change your password, it must be used for {} day(s) before it can be changed. Please try \
                             again in {days_left} day(s) or contact your administrator to reset your password.",
                            rules.minimum_password_age_days
                        )));
                    }
                }
            }
            if rules.unique_last_password_count > 1 {
                for (hash, _) in &history {
                    if password::verify(new, hash).await? {
                        return Err(Error::BadRequest(format!(
                            "The new password cannot be identical to a previous password. The total number which \
                             includes the new password must be unique is {}.",
                            rules.unique_last_password_count
                        )));
                    }
                }
            }
        }
        Ok(password::hash(new).await?)
    }

    /// Remembers `hash` as the newest password of `user_id`.
    pub(crate) async fn remember_password(&self, user_id: &str, hash: &str) -> Result<()> {
        let keep = self.config.security_compliance.unique_last_password_count.max(1);
        store::record_password(&self.pool, user_id, hash, time::micros(time::now()), keep).await
    }
}
