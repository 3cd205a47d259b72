//! Security groups and their rules. Each project has a `default` group,
//! made on first use with Neutron's four rules: all egress, and ingress from
//! members of the group itself, for IPv4 and IPv6.

use std::collections::HashMap;

use serde_json::{json, Value};

use oxistack_core::context::Context;
use oxistack_core::error::OnUnique;

use crate::attrs::{self, Body};
use crate::store::{self, RuleRow, SecurityGroupRow};
use crate::{new_id, now, owner, owns, Network, NeutronError, Result};

pub fn group_not_found(id: &str) -> NeutronError {
    NeutronError::not_found("SecurityGroupNotFound", format!("Security group {id} does not exist"))
}

pub fn rule_view(r: &RuleRow, default_group: bool) -> Value {
    json!({
        "id": r.id, "security_group_id": r.security_group_id, "project_id": r.project_id, "tenant_id": r.project_id,
        "direction": r.direction, "ethertype": r.ethertype, "protocol": r.protocol,
        "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix, "normalized_cidr": r.remote_ip_prefix,
        "remote_group_id": r.remote_group_id, "remote_address_group_id": null,
        "belongs_to_default_sg": default_group, "description": r.description, "tags": [],
        "revision_number": r.revision_number, "created_at": r.created_at, "updated_at": r.updated_at,
    })
}

pub fn group_view(g: &SecurityGroupRow, rules: &[&RuleRow]) -> Value {
    let default = g.name == "default";
    json!({
        "id": g.id, "name": g.name, "description": g.description, "project_id": g.project_id,
        "tenant_id": g.project_id, "stateful": g.stateful, "shared": false,
        "security_group_rules": rules.iter().map(|r| rule_view(r, default)).collect::<Vec<_>>(),
        "tags": store::string_list(&g.tags), "revision_number": g.revision_number,
        "created_at": g.created_at, "updated_at": g.updated_at,
    })
}

/// Neutron's `SecurityGroupInvalidPortValue`, which clients match on.
fn invalid_port(value: &Value) -> NeutronError {
    let shown = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
    NeutronError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "SecurityGroupInvalidPortValue",
        format!("Invalid value for port {shown}"),
    )
}

/// A port of a rule: absent, or an integer (or its digits) from 0 to 65535,
/// as Neutron's `convert_validate_port_value`.
fn port_value(body: &Body, key: &str) -> Result<Option<i64>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let n = v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            match n {
                Some(n) if (0..=65535).contains(&n) => Ok(Some(n)),
                _ => Err(invalid_port(v)),
            }
        }
    }
}

struct NewRule<'a> {
    direction: &'a str,
    ethertype: &'a str,
    protocol: Option<String>,
    ports: (Option<i64>, Option<i64>),
    remote_ip_prefix: Option<String>,
    remote_group_id: Option<String>,
    description: String,
}

/// The TCP ports a set of rules lets in from anywhere, for a data plane that
/// forwards ports one by one: explicit ranges of at most `max_range` ports;
/// a rule open to every TCP port counts as SSH (22) alone. A port forward
/// cannot tell one source from another, so a rule that lets in only some
/// sources (a `remote_ip_prefix` narrower than everything, or a remote
/// group) is not forwarded at all: never widened to everyone.
pub fn ingress_tcp_ports(rules: &[RuleRow], max_range: i64) -> Vec<u16> {
    let mut ports = std::collections::BTreeSet::new();
    for r in rules.iter().filter(|r| r.direction == "ingress" && r.ethertype == "IPv4") {
        let tcp = matches!(r.protocol.as_deref(), None | Some("tcp") | Some("6") | Some("any"));
        let every_source = matches!(r.remote_ip_prefix.as_deref(), None | Some("0.0.0.0/0"));
        let from_anywhere = r.remote_group_id.is_none() && every_source;
        if !tcp || !from_anywhere {
            continue;
        }
        match (r.port_range_min, r.port_range_max) {
            (Some(lo), Some(hi)) if hi >= lo && hi - lo < max_range => {
                ports.extend((lo..=hi).filter_map(|p| u16::try_from(p).ok()));
            }
            (None, None) => {
                ports.insert(22);
            }
            _ => {}
        }
    }
    ports.into_iter().collect()
}

impl Network {
    async fn insert_rule(&self, group: &str, project: &str, r: NewRule<'_>) -> Result<RuleRow> {
        let now = now();
        let row = RuleRow {
            id: new_id(),
            security_group_id: group.to_owned(),
            project_id: project.to_owned(),
            direction: r.direction.to_owned(),
            ethertype: r.ethertype.to_owned(),
            protocol: r.protocol,
            port_range_min: r.ports.0,
            port_range_max: r.ports.1,
            remote_ip_prefix: r.remote_ip_prefix,
            remote_group_id: r.remote_group_id,
            description: r.description,
            revision_number: 0,
            created_at: now.clone(),
            updated_at: now,
        };
        store::security_groups::insert_rule(&self.pool, &row).await?;
        Ok(row)
    }

    async fn insert_group(
        &self,
        name: &str,
        description: &str,
        project: &str,
        stateful: bool,
    ) -> Result<SecurityGroupRow> {
        let now = now();
        let g = SecurityGroupRow {
            id: new_id(),
            name: name.to_owned(),
            description: description.to_owned(),
            project_id: project.to_owned(),
            stateful,
            tags: "[]".into(),
            revision_number: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        store::security_groups::insert_group(&self.pool, &g)
            .await
            .on_unique(|| oxistack_core::Error::Conflict("Default security group already exists.".into()))?;
        for ethertype in ["IPv4", "IPv6"] {
            let rule = NewRule {
                direction: "egress",
                ethertype,
                protocol: None,
                ports: (None, None),
                remote_ip_prefix: None,
                remote_group_id: None,
                description: String::new(),
            };
            self.insert_rule(&g.id, project, rule).await?;
        }
        Ok(g)
    }

    /// The project's `default` group, made on first use.
    pub async fn default_security_group(&self, project: &str) -> Result<String> {
        let find = || store::security_groups::default_group(&self.pool, project);
        if let Some(id) = find().await? {
            return Ok(id);
        }
        match self.insert_group("default", "Default security group", project, true).await {
            Ok(g) => {
                for ethertype in ["IPv4", "IPv6"] {
                    let rule = NewRule {
                        direction: "ingress",
                        ethertype,
                        protocol: None,
                        ports: (None, None),
                        remote_ip_prefix: None,
                        remote_group_id: Some(g.id.clone()),
                        description: String::new(),
                    };
                    self.insert_rule(&g.id, project, rule).await?;
                }
                Ok(g.id)
            }
            // Made meanwhile by another request.
            Err(_) => find()
                .await?
                .ok_or_else(|| NeutronError::conflict("Conflict", "The default security group is being created.")),
        }
    }

    pub async fn security_group_of(&self, ctx: &Context, id: &str) -> Result<SecurityGroupRow> {
        match store::get::<SecurityGroupRow>(&self.pool, "security_groups", id).await? {
            Some(g) if owns(ctx, &g.project_id) => Ok(g),
            _ => Err(group_not_found(id)),
        }
    }

    /// A group of `project` by id or, as Nova's boot request names them, by name.
    pub async fn find_security_group(&self, project: &str, name_or_id: &str) -> Result<String> {
        if name_or_id == "default" {
            return self.default_security_group(project).await;
        }
        let found = store::security_groups::find_group(&self.pool, project, name_or_id).await?;
        found.ok_or_else(|| group_not_found(name_or_id))
    }

    pub async fn list_security_groups(&self, ctx: &Context) -> Result<Vec<Value>> {
        if let Some(p) = ctx.project_id() {
            self.default_security_group(p).await?;
        }
        let rules: Vec<RuleRow> = store::all(&self.pool, "security_group_rules").await?;
        let mut by_group: HashMap<&str, Vec<&RuleRow>> = HashMap::new();
        for r in &rules {
            by_group.entry(r.security_group_id.as_str()).or_default().push(r);
        }
        Ok(store::all::<SecurityGroupRow>(&self.pool, "security_groups")
            .await?
            .iter()
            .filter(|g| owns(ctx, &g.project_id))
            .map(|g| group_view(g, by_group.get(g.id.as_str()).map(Vec::as_slice).unwrap_or_default()))
            .collect())
    }

    pub async fn show_security_group(&self, ctx: &Context, id: &str) -> Result<Value> {
        let g = self.security_group_of(ctx, id).await?;
        let rules: Vec<RuleRow> = store::by(&self.pool, "security_group_rules", "security_group_id", id).await?;
        Ok(group_view(&g, &rules.iter().collect::<Vec<_>>()))
    }

    pub async fn create_security_group(&self, ctx: &Context, body: &Body) -> Result<Value> {
        attrs::only(body, &["name", "description", "project_id", "tenant_id", "stateful", "tags"])?;
        let project = owner(ctx, body)?;
        self.default_security_group(&project).await?;
        let name = attrs::string(body, "name")?.unwrap_or_default();
        if name == "default" {
            return Err(NeutronError::conflict(
                "SecurityGroupDefaultAlreadyExists",
                "Default security group already exists.",
            ));
        }
        self.check_quota(&project, "security_groups", "security_group").await?;
        let description = attrs::string(body, "description")?.unwrap_or_default();
        let stateful = attrs::boolean(body, "stateful")?.unwrap_or(true);
        let g = self.insert_group(&name, &description, &project, stateful).await?;
        self.show_security_group(ctx, &g.id).await
    }

    pub async fn update_security_group(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        let g = self.security_group_of(ctx, id).await?;
        attrs::only(body, &["name", "description", "stateful"])?;
        let name = attrs::string(body, "name")?.unwrap_or(g.name.clone());
        if g.name == "default" && name != "default" {
            return Err(NeutronError::conflict(
                "SecurityGroupCannotUpdateDefault",
                "Updating default security group not allowed.",
            ));
        }
        let changed = SecurityGroupRow {
            name,
            description: attrs::string(body, "description")?.unwrap_or(g.description),
            stateful: attrs::boolean(body, "stateful")?.unwrap_or(g.stateful),
            ..g
        };
        store::security_groups::update_group(&self.pool, &changed).await?;
        store::touch(&self.pool, "security_groups", id, &now()).await?;
        self.show_security_group(ctx, id).await
    }

    pub async fn delete_security_group(&self, ctx: &Context, id: &str) -> Result<()> {
        let g = self.security_group_of(ctx, id).await?;
        if g.name == "default" && !ctx.is_admin() {
            return Err(NeutronError::conflict(
                "SecurityGroupCannotRemoveDefault",
                "Insufficient rights for removing default security group.",
            ));
        }
        let used = store::security_groups::ports_in_group(&self.pool, id).await?;
        if used > 0 {
            return Err(NeutronError::conflict("SecurityGroupInUse", format!("Security Group {id} in use.")));
        }
        store::delete(&self.pool, "security_groups", id).await?;
        Ok(())
    }

    pub async fn list_rules(&self, ctx: &Context) -> Result<Vec<Value>> {
        if let Some(p) = ctx.project_id() {
            self.default_security_group(p).await?;
        }
        let defaults: std::collections::HashSet<String> = store::all::<SecurityGroupRow>(&self.pool, "security_groups")
            .await?
            .into_iter()
            .filter(|g| g.name == "default")
            .map(|g| g.id)
            .collect();
        Ok(store::all::<RuleRow>(&self.pool, "security_group_rules")
            .await?
            .iter()
            .filter(|r| owns(ctx, &r.project_id))
            .map(|r| rule_view(r, defaults.contains(&r.security_group_id)))
            .collect())
    }

    async fn rule(&self, ctx: &Context, id: &str) -> Result<RuleRow> {
        match store::get::<RuleRow>(&self.pool, "security_group_rules", id).await? {
            Some(r) if owns(ctx, &r.project_id) => Ok(r),
            _ => Err(NeutronError::not_found(
                "SecurityGroupRuleNotFound",
                format!("Security group rule {id} does not exist"),
            )),
        }
    }

    pub async fn show_rule(&self, ctx: &Context, id: &str) -> Result<Value> {
        let r = self.rule(ctx, id).await?;
        let g = self.security_group_of(ctx, &r.security_group_id).await?;
        Ok(rule_view(&r, g.name == "default"))
    }

    pub async fn create_rule(&self, ctx: &Context, body: &Body) -> Result<Value> {
        attrs::only(
            body,
            &[
                "security_group_id",
                "direction",
                "ethertype",
                "protocol",
                "port_range_min",
                "port_range_max",
                "remote_ip_prefix",
                "remote_group_id",
                "remote_address_group_id",
                "description",
                "project_id",
                "tenant_id",
            ],
        )?;
        let group_id = attrs::string(body, "security_group_id")?.ok_or_else(|| {
            NeutronError::bad_request("Failed to parse request. Required attribute 'security_group_id' not specified")
        })?;
        let g = self.security_group_of(ctx, &group_id).await?;
        let direction = attrs::string(body, "direction")?.unwrap_or_else(|| "ingress".into());
        if direction != "ingress" && direction != "egress" {
            return Err(NeutronError::bad_request(format!(
                "Invalid input for direction. Reason: {direction} is not in valid_values."
            )));
        }
        let ethertype = attrs::string(body, "ethertype")?.unwrap_or_else(|| "IPv4".into());
        let ethertype = match ethertype.to_ascii_lowercase().as_str() {
            "ipv4" => "IPv4",
            "ipv6" => "IPv6",
            _ => {
                return Err(NeutronError::bad_request(format!(
                    "Invalid input for ethertype. Reason: {ethertype} is not in valid_values."
                )))
            }
        };
        let protocol = match body.get("protocol") {
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => attrs::string(body, "protocol")?.filter(|p| p != "any").map(|p| p.to_ascii_lowercase()),
        };
        let known = ["tcp", "udp", "icmp", "ipv6-icmp", "icmpv6", "sctp", "gre", "esp", "ah", "vrrp"];
        if let Some(p) = &protocol {
            if !known.contains(&p.as_str()) && p.parse::<u8>().is_err() {
                return Err(NeutronError::bad_request(format!(
                    "Security group rule protocol {p} not supported. Only protocol values {} and integer representations [0 to 255] are supported.",
                    known.join(", ")
                )));
            }
        }
        let (lo, hi) = (port_value(body, "port_range_min")?, port_value(body, "port_range_max")?);
        if lo.is_some() || hi.is_some() {
            let ported = matches!(protocol.as_deref(), Some("tcp" | "udp" | "sctp" | "6" | "17" | "132"));
            let icmp = matches!(protocol.as_deref(), Some("icmp" | "ipv6-icmp" | "icmpv6" | "1" | "58"));
            if !ported && !icmp {
                return Err(NeutronError::bad_request("Must also specify protocol if port range is given."));
            }
            if ported {
                if lo == Some(0) || hi == Some(0) {
                    return Err(invalid_port(&Value::from(0)));
                }
                match (lo, hi) {
                    (Some(a), Some(b)) if a <= b => {}
                    _ => {
                        return Err(NeutronError::new(
                            axum::http::StatusCode::BAD_REQUEST,
                            "SecurityGroupInvalidPortRange",
                            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                        ))
                    }
                }
            }
        }
        let remote_ip_prefix = attrs::string(body, "remote_ip_prefix")?;
        if let Some(prefix) = &remote_ip_prefix {
            let c = crate::ipam::Cidr::parse(prefix)
                .map_err(|e| NeutronError::bad_request(format!("Invalid input for remote_ip_prefix. Reason: {e}.")))?;
            if (c.version == 4) != (ethertype == "IPv4") {
                return Err(NeutronError::bad_request(format!(
                    "Conflicting value ethertype {ethertype} for CIDR {prefix}"
                )));
            }
        }
        let remote_group_id = attrs::string(body, "remote_group_id")?;
        if let Some(r) = &remote_group_id {
            self.security_group_of(ctx, r).await?;
        }
        let existing: Vec<RuleRow> =
            store::by(&self.pool, "security_group_rules", "security_group_id", &group_id).await?;
        let normal = |p: &Option<String>| p.as_deref().filter(|p| *p != "0.0.0.0/0" && *p != "::/0").map(String::from);
        if let Some(dup) = existing.iter().find(|r| {
            r.direction == direction
                && r.ethertype == ethertype
                && r.protocol == protocol
                && r.port_range_min == lo
                && r.port_range_max == hi
                && normal(&r.remote_ip_prefix) == normal(&remote_ip_prefix)
                && r.remote_group_id == remote_group_id
        }) {
            return Err(NeutronError::conflict(
                "SecurityGroupRuleExists",
                format!("Security group rule already exists. Rule id is {}.", dup.id),
            ));
        }
        self.check_quota(&g.project_id, "security_group_rules", "security_group_rule").await?;
        let rule = NewRule {
            direction: &direction,
            ethertype,
            protocol,
            ports: (lo, hi),
            remote_ip_prefix,
            remote_group_id,
            description: attrs::string(body, "description")?.unwrap_or_default(),
        };
        let row = self.insert_rule(&group_id, &g.project_id, rule).await?;
        store::touch(&self.pool, "security_groups", &group_id, &now()).await?;
        self.security_groups_changed(&group_id).await?;
        Ok(rule_view(&row, g.name == "default"))
    }

    /// Only the description of a rule changes.
    pub async fn update_rule(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        self.rule(ctx, id).await?;
        attrs::only(body, &["description"])?;
        if let Some(d) = attrs::string(body, "description")? {
            store::security_groups::set_rule_description(&self.pool, id, &d).await?;
            store::touch(&self.pool, "security_group_rules", id, &now()).await?;
        }
        self.show_rule(ctx, id).await
    }

    pub async fn delete_rule(&self, ctx: &Context, id: &str) -> Result<()> {
        let r = self.rule(ctx, id).await?;
        store::delete(&self.pool, "security_group_rules", id).await?;
        store::touch(&self.pool, "security_groups", &r.security_group_id, &now()).await?;
        self.security_groups_changed(&r.security_group_id).await
    }

    /// Tells the owners of ports in `group` that what reaches them changed.
    async fn security_groups_changed(&self, group: &str) -> Result<()> {
        let devices = store::security_groups::devices_in_group(&self.pool, group).await?;
        for d in devices {
            self.port_changed(&d);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: Option<&str>, ports: (Option<i64>, Option<i64>), remote_group: Option<&str>) -> RuleRow {
        RuleRow {
            id: "r".into(),
            security_group_id: "g".into(),
            project_id: "p".into(),
            direction: "ingress".into(),
            ethertype: "IPv4".into(),
            protocol: protocol.map(String::from),
            port_range_min: ports.0,
            port_range_max: ports.1,
            remote_ip_prefix: Some("0.0.0.0/0".into()),
            remote_group_id: remote_group.map(String::from),
            description: String::new(),
            revision_number: 0,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn forwarded_ports_follow_ingress_rules() {
        let rules = vec![
            rule(Some("tcp"), (Some(22), Some(22)), None),
            rule(Some("tcp"), (Some(8000), Some(8002)), None),
            rule(Some("udp"), (Some(53), Some(53)), None),
            rule(None, (None, None), Some("g")),
            rule(Some("tcp"), (Some(1), Some(65535)), None),
        ];
        assert_eq!(ingress_tcp_ports(&rules, 64), vec![22, 8000, 8001, 8002]);
        assert_eq!(ingress_tcp_ports(&[rule(Some("tcp"), (None, None), None)], 64), vec![22]);
    }

    #[test]
    fn rules_for_some_sources_are_not_widened_to_everyone() {
        let mut narrow = rule(Some("tcp"), (Some(22), Some(22)), None);
        narrow.remote_ip_prefix = Some("192.0.2.7/32".into());
        assert_eq!(ingress_tcp_ports(&[narrow], 64), Vec::<u16>::new());
        let mut open = rule(Some("tcp"), (Some(80), Some(80)), None);
        open.remote_ip_prefix = None;
        assert_eq!(ingress_tcp_ports(&[open], 64), vec![80]);
    }
}
