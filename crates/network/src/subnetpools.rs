//! Subnet pools: prefixes from which a subnet is given a CIDR of the length
//! it asks for (or the pool's default), never overlapping another subnet of
//! the pool.

use serde_json::{json, Value};

use oxistack_core::context::Context;

use crate::attrs::{self, Body};
use crate::ipam::Cidr;
use crate::store::{self, SubnetRow};
use crate::{new_id, now, owner, owns, Network, NeutronError, Result};

pub use crate::store::SubnetPoolRow;

fn not_found(id: &str) -> NeutronError {
    NeutronError::not_found("SubnetPoolNotFound", format!("Subnet pool {id} could not be found."))
}

/// Prefix lengths are strings in Neutron's answers.
fn view(p: &SubnetPoolRow) -> Value {
    json!({
        "id": p.id, "name": p.name, "description": p.description, "project_id": p.project_id,
        "tenant_id": p.project_id, "ip_version": p.ip_version, "prefixes": store::string_list(&p.prefixes),
        "default_prefixlen": p.default_prefixlen.to_string(), "min_prefixlen": p.min_prefixlen.to_string(),
        "max_prefixlen": p.max_prefixlen.to_string(), "shared": p.shared, "is_default": p.is_default,
        "default_quota": null, "address_scope_id": null,
        "tags": store::string_list(&p.tags), "revision_number": p.revision_number,
        "created_at": p.created_at, "updated_at": p.updated_at,
    })
}

fn parse_prefixes(list: &[String]) -> Result<Vec<Cidr>> {
    let prefixes: Vec<Cidr> = list
        .iter()
        .map(|p| {
            Cidr::parse(p).map_err(|e| NeutronError::bad_request(format!("Invalid input for prefixes. Reason: {e}.")))
        })
        .collect::<Result<_>>()?;
    if prefixes.is_empty() {
        return Err(NeutronError::bad_request("Invalid input for prefixes. Reason: at least one prefix is needed."));
    }
    if prefixes.iter().any(|p| p.version != prefixes[0].version) {
        return Err(NeutronError::bad_request("Illegal subnetpool: prefixes of mixed IP versions."));
    }
    Ok(prefixes)
}

/// The first block of `/len` inside `prefixes` that overlaps none of `used`.
pub fn carve(prefixes: &[Cidr], len: u8, used: &[Cidr]) -> Option<Cidr> {
    for p in prefixes.iter().filter(|p| p.prefix <= len) {
        let width = if p.version == 4 { 32 } else { 128 };
        let step = 1u128.checked_shl(u32::from(width - len)).unwrap_or(0);
        let mut base = p.base;
        while base <= p.last() {
            let candidate = Cidr { version: p.version, base, prefix: len };
            if !used.iter().any(|u| u.overlaps(&candidate)) {
                return Some(candidate);
            }
            if step == 0 {
                break;
            }
            let Some(next) = base.checked_add(step) else { break };
            base = next;
        }
    }
    None
}

impl Network {
    async fn pool_row(&self, ctx: &Context, id: &str) -> Result<SubnetPoolRow> {
        match store::get::<SubnetPoolRow>(&self.pool, "subnetpools", id).await? {
            Some(p) if owns(ctx, &p.project_id) || p.shared => Ok(p),
            _ => Err(not_found(id)),
        }
    }

    pub async fn list_subnetpools(&self, ctx: &Context) -> Result<Vec<Value>> {
        Ok(store::all::<SubnetPoolRow>(&self.pool, "subnetpools")
            .await?
            .iter()
            .filter(|p| owns(ctx, &p.project_id) || p.shared)
            .map(view)
            .collect())
    }

    pub async fn show_subnetpool(&self, ctx: &Context, id: &str) -> Result<Value> {
        Ok(view(&self.pool_row(ctx, id).await?))
    }

    pub async fn create_subnetpool(&self, ctx: &Context, body: &Body) -> Result<Value> {
        attrs::only(
            body,
            &[
                "name",
                "description",
                "prefixes",
                "default_prefixlen",
                "min_prefixlen",
                "max_prefixlen",
                "shared",
                "is_default",
                "project_id",
                "tenant_id",
                "default_quota",
                "address_scope_id",
                "tags",
            ],
        )?;
        attrs::admin_only(ctx, body, "create_subnetpool", &["shared", "is_default"])?;
        let project = owner(ctx, body)?;
        let list = attrs::strings(body, "prefixes")?.unwrap_or_default();
        let prefixes = parse_prefixes(&list)?;
        let width = if prefixes[0].version == 4 { 32 } else { 128 };
        let min = attrs::integer(body, "min_prefixlen")?.unwrap_or(if width == 32 { 8 } else { 64 });
        let max = attrs::integer(body, "max_prefixlen")?.unwrap_or(width);
        let default = attrs::integer(body, "default_prefixlen")?.unwrap_or(min);
        if !(0..=width).contains(&min) || max > width || min > default || default > max {
            return Err(NeutronError::bad_request(format!(
                "Illegal prefix bounds: min_prefixlen={min}, default_prefixlen={default}, max_prefixlen={max}."
            )));
        }
        let now = now();
        let p = SubnetPoolRow {
            id: new_id(),
            name: attrs::string(body, "name")?.unwrap_or_default(),
            description: attrs::string(body, "description")?.unwrap_or_default(),
            project_id: project,
            ip_version: i64::from(prefixes[0].version),
            prefixes: serde_json::to_string(&prefixes.iter().map(Cidr::to_string).collect::<Vec<_>>())
                .unwrap_or_default(),
            default_prefixlen: default,
            min_prefixlen: min,
            max_prefixlen: max,
            shared: attrs::boolean(body, "shared")?.unwrap_or(false),
            is_default: attrs::boolean(body, "is_default")?.unwrap_or(false),
            tags: serde_json::to_string(&attrs::strings(body, "tags")?.unwrap_or_default()).unwrap_or_default(),
            revision_number: 0,
            created_at: now.clone(),
            updated_at: now,
        };
        store::subnetpools::insert_subnetpool(&self.pool, &p).await?;
        Ok(view(&p))
    }

    pub async fn update_subnetpool(&self, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
        let p = self.pool_row(ctx, id).await?;
        if !owns(ctx, &p.project_id) {
            return Err(NeutronError::policy("update", "subnetpool"));
        }
        attrs::only(body, &["name", "description", "prefixes", "default_prefixlen", "is_default"])?;
        let prefixes = match attrs::strings(body, "prefixes")? {
            // Prefixes may only grow: every old one must stay covered.
            Some(list) => {
                let new = parse_prefixes(&list)?;
                let old = parse_prefixes(&store::string_list(&p.prefixes))?;
                if !old
                    .iter()
                    .all(|o| new.iter().any(|n| n.prefix <= o.prefix && n.contains(o.base) && n.contains(o.last())))
                {
                    return Err(NeutronError::bad_request("Illegal update to prefixes: existing prefixes must stay."));
                }
                serde_json::to_string(&new.iter().map(Cidr::to_string).collect::<Vec<_>>()).unwrap_or_default()
            }
            None => p.prefixes.clone(),
        };
        let changed = SubnetPoolRow {
            name: attrs::string(body, "name")?.unwrap_or(p.name),
            description: attrs::string(body, "description")?.unwrap_or(p.description),
            prefixes,
            default_prefixlen: attrs::integer(body, "default_prefixlen")?.unwrap_or(p.default_prefixlen),
            is_default: attrs::boolean(body, "is_default")?.unwrap_or(p.is_default),
            ..p
        };
        store::subnetpools::update_subnetpool(&self.pool, &changed).await?;
        store::touch(&self.pool, "subnetpools", id, &now()).await?;
        self.show_subnetpool(ctx, id).await
    }

    pub async fn delete_subnetpool(&self, ctx: &Context, id: &str) -> Result<()> {
        let p = self.pool_row(ctx, id).await?;
        if !owns(ctx, &p.project_id) {
            return Err(NeutronError::policy("delete", "subnetpool"));
        }
        let used: Vec<SubnetRow> = store::by(&self.pool, "subnets", "subnetpool_id", id).await?;
        if !used.is_empty() {
            return Err(NeutronError::conflict(
                "SubnetPoolInUse",
                format!("Unable to complete operation on subnet pool {id}. Subnets are still allocated from it."),
            ));
        }
        store::delete(&self.pool, "subnetpools", id).await?;
        Ok(())
    }

    /// The CIDR a subnet takes from a pool: the one asked for, checked to lie
    /// in the pool and be free, or the first free block of `prefixlen` (the
    /// pool's default when not given).
    pub(crate) async fn cidr_from_pool(
        &self,
        ctx: &Context,
        pool_id: Option<String>,
        version: Option<i64>,
        cidr: Option<&str>,
        prefixlen: Option<i64>,
    ) -> Result<(String, String)> {
        let pool = match pool_id {
            Some(id) => self.pool_row(ctx, &id).await?,
            None => {
                let all: Vec<SubnetPoolRow> = store::all(&self.pool, "subnetpools").await?;
                all.into_iter().find(|p| p.is_default && Some(p.ip_version) == version.or(Some(4))).ok_or_else(
                    || NeutronError::bad_request("Bad subnet request: No default subnetpool found for IPv4."),
                )?
            }
        };
        let prefixes = parse_prefixes(&store::string_list(&pool.prefixes))?;
        let used: Vec<Cidr> = store::by::<SubnetRow>(&self.pool, "subnets", "subnetpool_id", &pool.id)
            .await?
            .iter()
            .filter_map(|s| Cidr::parse(&s.cidr).ok())
            .collect();
        if let Some(c) = cidr {
            let c = Cidr::parse(c)
                .map_err(|e| NeutronError::bad_request(format!("Invalid input for cidr. Reason: {e}.")))?;
            let inside = prefixes.iter().any(|p| p.prefix <= c.prefix && p.contains(c.base) && p.contains(c.last()));
            if !inside || used.iter().any(|u| u.overlaps(&c)) {
                return Err(NeutronError::conflict(
                    "SubnetAllocationError",
                    format!("Failed to allocate subnet: Cannot allocate requested subnet {c} from the available set of prefixes"),
                ));
            }
            return Ok((c.to_string(), pool.id));
        }
        let len = prefixlen.unwrap_or(pool.default_prefixlen);
        if len < pool.min_prefixlen || len > pool.max_prefixlen {
            return Err(NeutronError::bad_request(format!(
                "Illegal prefix bounds: prefixlen={len}, min_prefixlen={}, max_prefixlen={}.",
                pool.min_prefixlen, pool.max_prefixlen
            )));
        }
        let found = carve(&prefixes, len as u8, &used).ok_or_else(|| {
            NeutronError::conflict(
                "SubnetAllocationError",
                format!("Failed to allocate subnet: Insufficient prefix space to allocate subnet size /{len}."),
            )
        })?;
        Ok((found.to_string(), pool.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carving_takes_the_first_free_block() {
        let pool = [Cidr::parse("10.10.0.0/16").unwrap()];
        let used = [Cidr::parse("10.10.0.0/24").unwrap(), Cidr::parse("10.10.2.0/23").unwrap()];
        assert_eq!(carve(&pool, 24, &used).unwrap().to_string(), "10.10.1.0/24");
        assert_eq!(carve(&pool, 23, &used).unwrap().to_string(), "10.10.4.0/23");
        assert!(carve(&pool, 8, &used).is_none());
        let full = [Cidr::parse("10.10.0.0/16").unwrap()];
        assert!(carve(&pool, 24, &full).is_none());
    }
}
