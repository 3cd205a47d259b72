//! Server lists: Nova's filters, sort keys and pages over the store's
//! listing query. What SQL can answer (project, states, image, flavor,
//! reservation, access addresses, `changes-since`, order, marker, limit) is
//! asked of the database; what it cannot (name and address patterns, exact
//! tags) narrows the database's answer here, page by page, so a page costs
//! what it shows and not what the project holds.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use regex_lite::Regex;

use oxistack_core::context::Context;
use oxistack_core::error::{Error, Result};

use crate::states::{states_showing, status, VmState};
use crate::store::{self, Instance, InstanceFilter, InstanceOrder};
use crate::Compute;

/// Nova's `[api] max_limit`: the largest page, and the page when no limit is
/// given.
pub const MAX_LIMIT: usize = 1000;

/// A list request, as the API parsed it.
#[derive(Debug, Default)]
pub struct ServerQuery {
    /// `all_tenants`: every project's (an admin's request only).
    pub all_tenants: bool,
    /// With `all_tenants`, one project's.
    pub project: Option<String>,
    pub name: Option<Regex>,
    pub ip: Option<Regex>,
    pub ip6: Option<Regex>,
    pub access_ipv4: Option<String>,
    pub access_ipv6: Option<String>,
    /// Nova's statuses, upper case.
    pub statuses: Vec<String>,
    pub image: Option<String>,
    pub flavor: Option<String>,
    pub reservation_id: Option<String>,
    pub tags: Vec<String>,
    pub changes_since: Option<DateTime<FixedOffset>>,
    pub order: InstanceOrder,
    pub ascending: bool,
    pub marker: Option<String>,
    pub limit: Option<usize>,
}

/// The vm_states whose servers can show one of `statuses`.
fn states_of(statuses: &[String]) -> Vec<VmState> {
    let mut states: Vec<VmState> = statuses.iter().flat_map(|s| states_showing(s)).collect();
    states.dedup();
    states
}

/// Text every name a pattern matches must contain: its longest run of plain
/// characters outside groups and classes, less a last one a quantifier makes
/// optional. None for alternations and flags, which may match without it.
fn required_text(re: &Regex) -> Option<String> {
    let pattern = re.as_str();
    if pattern.contains('|') || pattern.contains("(?") {
        return None;
    }
    let (mut best, mut run) = (String::new(), String::new());
    // `closing`: the end of a class or a repetition count being skipped.
    let (mut depth, mut closing, mut escaped) = (0usize, None::<char>, false);
    let end = |run: &mut String, best: &mut String| {
        if run.chars().count() > best.chars().count() {
            *best = run.clone();
        }
        run.clear();
    };
    for c in pattern.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        if let Some(close) = closing {
            if c == close {
                closing = None;
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                end(&mut run, &mut best);
            }
            '[' => {
                closing = Some(']');
                end(&mut run, &mut best);
            }
            '(' => {
                depth += 1;
                end(&mut run, &mut best);
            }
            ')' => depth = depth.saturating_sub(1),
            '?' | '*' | '{' => {
                if c == '{' {
                    closing = Some('}');
                }
                run.pop();
                end(&mut run, &mut best);
            }
            '+' | '.' | '^' | '$' => end(&mut run, &mut best),
            c if depth == 0 => run.push(c),
            _ => {}
        }
    }
    end(&mut run, &mut best);
    (!best.is_empty()).then_some(best)
}

/// The text of a pattern that matches exactly one name (`^text$`, the text
/// plain).
fn anchored_literal(re: &Regex) -> Option<String> {
    let inner = re.as_str().strip_prefix('^')?.strip_suffix('$')?;
    let plain = Regex::new(inner).ok().is_some_and(|r| literal(&r));
    plain.then(|| inner.to_owned())
}

/// Whether a pattern is plain text, which the database answers alone.
fn literal(re: &Regex) -> bool {
    let syntax = |c: char| "\\.+*?()|[]{}^$".contains(c);
    !re.as_str().is_empty() && !re.as_str().contains(syntax)
}

impl Compute {
    /// One page of the servers `ctx` may list, and the marker of the next
    /// page when there are more.
    pub async fn list_servers(&self, ctx: &Context, q: &ServerQuery) -> Result<(Vec<Instance>, Option<String>)> {
        // Only admins list other projects' servers (Nova's
        // `servers:index:get_all_tenants`); others get their own.
        let project = if q.all_tenants && ctx.is_admin() {
            q.project.clone()
        } else {
            Some(ctx.project_id().unwrap_or_default().to_owned())
        };
        let filter = InstanceFilter {
            project: project.clone(),
            changed_since: q.changes_since.map(|t| t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Secs, true)),
            vm_states: (!q.statuses.is_empty()).then(|| states_of(&q.statuses)),
            image_ref: q.image.as_ref().map(|img| img.rsplit('/').next().unwrap_or(img).to_owned()),
            flavor_id: q.flavor.clone(),
            reservation_id: q.reservation_id.clone(),
            access_ipv4: q.access_ipv4.clone().filter(|_| ctx.is_admin()),
            access_ipv6: q.access_ipv6.clone().filter(|_| ctx.is_admin()),
            name_contains: q.name.as_ref().and_then(required_text),
            name_is: q.name.as_ref().and_then(anchored_literal),
            tags_contain: q.tags.iter().map(|t| serde_json::Value::from(t.as_str()).to_string()).collect(),
        };
        let limit = q.limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
        let mut after = match &q.marker {
            Some(m) => match store::instance_any(&self.pool, m).await? {
                Some(i) if project.as_deref().is_none_or(|p| p == i.project_id) => Some(i),
                _ => return Err(Error::BadRequest(format!("marker [{m}] not found"))),
            },
            None => None,
        };
        if limit == 0 {
            return Ok((vec![], None));
        }
        // One more than the page says whether there is a next one; with
        // checks left to do here, pages of the database are read until
        // enough rows pass them.
        let wanted = limit + 1;
        // Patterns the database cannot pre-select on may skip many rows:
        // those read in bigger pages.
        let sparse = q.name.as_ref().is_some_and(|re| !literal(re)) || q.ip.is_some() || q.ip6.is_some();
        let mut rows: Vec<Instance> = vec![];
        loop {
            let batch_size = if sparse { wanted.max(200) } else { wanted - rows.len() };
            let batch =
                store::instances_page(&self.pool, &filter, q.order, q.ascending, after.as_ref(), batch_size as i64)
                    .await?;
            let complete = batch.len() < batch_size;
            after = batch.last().cloned();
            rows.extend(batch.into_iter().filter(|i| shows(q, i)));
            if complete || rows.len() >= wanted {
                break;
            }
        }
        let next = (rows.len() > limit).then(|| rows[limit - 1].id.clone());
        rows.truncate(limit);
        Ok((rows, next))
    }
}

/// The checks of a list that the database answered only roughly.
fn shows(q: &ServerQuery, i: &Instance) -> bool {
    let addresses = |v4: bool| {
        let vifs = &i.network_info;
        if v4 {
            vifs.iter().map(|vif| vif.fixed_ip.to_string()).collect::<Vec<_>>()
        } else {
            vifs.iter().flat_map(|vif| vif.fixed_ips_v6.iter().map(|a| a.to_string())).collect()
        }
    };
    let has_tags = || q.tags.iter().all(|t| i.tags.contains(t));
    q.name.as_ref().is_none_or(|re| re.is_match(&i.name))
        && (q.statuses.is_empty() || q.statuses.iter().any(|s| s == status(i.vm_state, i.task_state)))
        && q.ip.as_ref().is_none_or(|re| addresses(true).iter().any(|a| re.is_match(a)))
        && q.ip6.as_ref().is_none_or(|re| addresses(false).iter().any(|a| re.is_match(a)))
        && (q.tags.is_empty() || has_tags())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_name_the_states_that_show_them() {
        assert_eq!(states_of(&["ACTIVE".into()]), [VmState::Active]);
        assert_eq!(states_of(&["REBOOT".into(), "SHUTOFF".into()]), [VmState::Active, VmState::Stopped]);
        assert_eq!(states_of(&["ACTIVE".into(), "REBOOT".into()]), [VmState::Active]);
        assert_eq!(states_of(&["BUILD".into()]), [VmState::Building]);
        assert!(states_of(&["NONSENSE".into()]).is_empty());
    }

    #[test]
    fn patterns_give_the_database_text_their_matches_contain() {
        let text = |p: &str| required_text(&Regex::new(p).unwrap());
        assert_eq!(text("web-1").as_deref(), Some("web-1"));
        assert!(literal(&Regex::new("web-1").unwrap()) && !literal(&Regex::new("^web").unwrap()));
        let exact = |p: &str| anchored_literal(&Regex::new(p).unwrap());
        assert_eq!(exact("^web-1$").as_deref(), Some("web-1"));
        assert_eq!(exact("^web.1$"), None);
        assert_eq!(exact("^web-1"), None);
        assert_eq!(exact("^$"), None);
        assert_eq!(text("^bench-9999$").as_deref(), Some("bench-9999"));
        assert_eq!(text("^x-1[0]?$").as_deref(), Some("x-1"));
        assert_eq!(text("webs?-").as_deref(), Some("web"));
        assert_eq!(text("ab+c").as_deref(), Some("ab"));
        assert_eq!(text("(abc)?d").as_deref(), Some("d"));
        assert_eq!(text(r"a\.bc").as_deref(), Some("bc"));
        assert_eq!(text("x{0,3}"), None);
        assert_eq!(text("web|db"), None);
        assert_eq!(text("(?i)web"), None);
    }
}
