//! What other services ask of Network (Compute, for its servers' ports), so
//! that none of them reads Network's tables: rows answered as the store
//! types, with no policy applied (the callers apply their own).

use crate::store::{self, Allocation, FloatingIpRow, NetworkRow, PortRow, RuleRow, SecurityGroupRow, SubnetRow};
use crate::{Network, Result};

impl Network {
    /// Every network, external and shared ones included.
    pub async fn all_networks(&self) -> Result<Vec<NetworkRow>> {
        store::all(&self.pool, "networks").await
    }

    pub async fn network_row(&self, id: &str) -> Result<Option<NetworkRow>> {
        store::get(&self.pool, "networks", id).await
    }

    /// The ports bound to a device (a server, a router), whoever owns them.
    pub async fn ports_of_device(&self, device: &str) -> Result<Vec<PortRow>> {
        store::by(&self.pool, "ports", "device_id", device).await
    }

    /// A port's addresses, in the order they were given.
    pub async fn addresses_of(&self, port: &str) -> Result<Vec<Allocation>> {
        store::port_allocations(&self.pool, port).await
    }

    pub async fn security_group_row(&self, id: &str) -> Result<Option<SecurityGroupRow>> {
        store::get(&self.pool, "security_groups", id).await
    }

    /// The floating IPs associated with a port.
    pub async fn floating_ips_of(&self, port: &str) -> Result<Vec<FloatingIpRow>> {
        store::by(&self.pool, "floatingips", "port_id", port).await
    }

    /// The subnets of a network.
    pub async fn subnets_of(&self, network: &str) -> Result<Vec<SubnetRow>> {
        store::by(&self.pool, "subnets", "network_id", network).await
    }

    /// The rules of the groups, in the groups' order.
    pub async fn rules_of(&self, groups: &[String]) -> Result<Vec<RuleRow>> {
        let mut out = vec![];
        for g in groups {
            out.extend(store::by::<RuleRow>(&self.pool, "security_group_rules", "security_group_id", g).await?);
        }
        Ok(out)
    }
}
