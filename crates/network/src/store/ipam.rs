//! The `ip_allocations` table (the addresses given to ports, whose primary
//! key keeps one address from ever going to two) and `ip_free_ranges`, what
//! each subnet has left to give, kept beside them so that giving the next
//! address reads one row however full the subnet is.
//!
//! Every change to a subnet's addresses runs under the subnet's lock (across
//! every server on the database) in one write transaction: an allocation and
//! the range it came from change together or not at all.

use oxistack_core::db::{self, Claim, Pool, Tx};
use sqlx::FromRow;

use super::SubnetRow;
use crate::ipam;
use crate::Result;

/// An address as its range key: 32 hex digits, whose text order is the
/// numbers' order on both engines.
fn key(n: u128) -> String {
    format!("{n:032x}")
}

fn number(key: &str) -> Option<u128> {
    u128::from_str_radix(key, 16).ok()
}

fn address_number(address: &str) -> Option<u128> {
    address.parse::<std::net::IpAddr>().ok().map(|ip| ipam::to_number(ip).1)
}

#[derive(FromRow)]
struct Range {
    first_key: String,
    last_key: String,
}

async fn lock(pool: &Pool, subnet: &str) -> Result<Claim> {
    Ok(pool.lock(&format!("ipam:{subnet}")).await?)
}

/// How many addresses are given on a subnet.
pub async fn subnet_allocation_count(pool: &Pool, subnet: &str) -> Result<i64> {
    Ok(db::query_scalar("SELECT COUNT(*) FROM ip_allocations WHERE subnet_id = ?").bind(subnet).fetch_one(pool).await?)
}

/// Gives `port` the lowest free address of `subnet`'s pools; `None` when
/// they have none left (or the subnet is gone).
pub async fn claim_next(pool: &Pool, subnet: &str, port: &str) -> Result<Option<String>> {
    let claim = lock(pool, subnet).await?;
    let mut tx = pool.begin_write().await?;
    let given = next_free(&mut tx, subnet, port).await?;
    tx.commit().await?;
    claim.release().await;
    Ok(given)
}

async fn next_free(tx: &mut Tx, subnet: &str, port: &str) -> Result<Option<String>> {
    let Some(s) = subnet_row(tx, subnet).await? else { return Ok(None) };
    if !built(tx, subnet).await? {
        rebuild(tx, &s).await?;
    }
    loop {
        let first = db::query_as::<Range>(
            "SELECT first_key, last_key FROM ip_free_ranges WHERE subnet_id = ? ORDER BY first_key LIMIT 1",
        )
        .bind(subnet)
        .fetch_optional(&mut *tx)
        .await?;
        // The ranges change with the allocations in one transaction, so
        // none left means the pools are full.
        let Some(range) = first else { return Ok(None) };
        let (Some(n), Some(last)) = (number(&range.first_key), number(&range.last_key)) else {
            remove_range(tx, subnet, &range.first_key).await?;
            continue;
        };
        if n >= last {
            remove_range(tx, subnet, &range.first_key).await?;
        } else {
            db::query("UPDATE ip_free_ranges SET first_key = ? WHERE subnet_id = ? AND first_key = ?")
                .bind(key(n + 1))
                .bind(subnet)
                .bind(&range.first_key)
                .execute(&mut *tx)
                .await?;
        }
        let address = ipam::to_ip(s.ip_version as u8, n).to_string();
        // An address given outside the ranges (there should be none) is now
        // out of them too: the next one is tried.
        if insert(tx, subnet, &address, port, &s.network_id).await? {
            return Ok(Some(address));
        }
    }
}

/// Makes `s`'s free ranges again: its pools without its allocations.
async fn rebuild(tx: &mut Tx, s: &SubnetRow) -> Result<()> {
    db::query("DELETE FROM ip_free_ranges WHERE subnet_id = ?").bind(&s.id).execute(&mut *tx).await?;
    let taken: Vec<String> = db::query_scalar("SELECT ip_address FROM ip_allocations WHERE subnet_id = ?")
        .bind(&s.id)
        .fetch_all(&mut *tx)
        .await?;
    let taken: Vec<u128> = taken.iter().filter_map(|a| address_number(a)).collect();
    for (first, last) in ipam::free_ranges(&s.pool_ranges(), &taken) {
        add_range(tx, &s.id, first, last).await?;
    }
    db::query("UPDATE subnets SET free_ranges_built = TRUE WHERE id = ?").bind(&s.id).execute(&mut *tx).await?;
    Ok(())
}

async fn subnet_row(tx: &mut Tx, subnet: &str) -> Result<Option<SubnetRow>> {
    Ok(db::query_as::<SubnetRow>("SELECT * FROM subnets WHERE id = ?").bind(subnet).fetch_optional(&mut *tx).await?)
}

async fn remove_range(tx: &mut Tx, subnet: &str, first_key: &str) -> Result<()> {
    db::query("DELETE FROM ip_free_ranges WHERE subnet_id = ? AND first_key = ?")
        .bind(subnet)
        .bind(first_key)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The far end of a free range: `sql` selects one end's key of the range
/// whose other end is `at`.
async fn neighbour(tx: &mut Tx, subnet: &str, sql: &str, at: u128) -> Result<Option<u128>> {
    let other: Option<String> = db::query_scalar(sql).bind(subnet).bind(key(at)).fetch_optional(&mut *tx).await?;
    Ok(other.and_then(|k| number(&k)))
}

async fn add_range(tx: &mut Tx, subnet: &str, first: u128, last: u128) -> Result<()> {
    db::query("INSERT INTO ip_free_ranges (subnet_id, first_key, last_key) VALUES (?, ?, ?)")
        .bind(subnet)
        .bind(key(first))
        .bind(key(last))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn insert(tx: &mut Tx, subnet: &str, address: &str, port: &str, network: &str) -> Result<bool> {
    let inserted = db::query(
        "INSERT INTO ip_allocations (subnet_id, ip_address, port_id, network_id) VALUES (?, ?, ?, ?)
         ON CONFLICT DO NOTHING",
    )
    .bind(subnet)
    .bind(address)
    .bind(port)
    .bind(network)
    .execute(&mut *tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn built(tx: &mut Tx, subnet: &str) -> Result<bool> {
    Ok(db::query_scalar::<bool>("SELECT free_ranges_built FROM subnets WHERE id = ?")
        .bind(subnet)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(false))
}

/// Gives `address` of `subnet` to `port`; false when another port has it
/// (the primary key decides). The address leaves the free ranges.
pub async fn claim_address(pool: &Pool, subnet: &str, address: &str, port: &str, network: &str) -> Result<bool> {
    let claim = lock(pool, subnet).await?;
    let mut tx = pool.begin_write().await?;
    let inserted = insert(&mut tx, subnet, address, port, network).await?;
    if inserted && built(&mut tx, subnet).await? {
        if let Some(n) = address_number(address) {
            take_out(&mut tx, subnet, n).await?;
        }
    }
    tx.commit().await?;
    claim.release().await;
    Ok(inserted)
}

/// The free range holding `n`, if one does.
async fn range_holding(tx: &mut Tx, subnet: &str, n: u128) -> Result<Option<(u128, u128)>> {
    let range = db::query_as::<Range>(
        "SELECT first_key, last_key FROM ip_free_ranges WHERE subnet_id = ? AND first_key <= ?
         ORDER BY first_key DESC LIMIT 1",
    )
    .bind(subnet)
    .bind(key(n))
    .fetch_optional(&mut *tx)
    .await?;
    Ok(range.and_then(|r| Some((number(&r.first_key)?, number(&r.last_key)?))).filter(|(_, last)| *last >= n))
}

/// Splits `n` out of the free range holding it.
async fn take_out(tx: &mut Tx, subnet: &str, n: u128) -> Result<()> {
    let Some((first, last)) = range_holding(tx, subnet, n).await? else { return Ok(()) };
    remove_range(tx, subnet, &key(first)).await?;
    if first < n {
        add_range(tx, subnet, first, n - 1).await?;
    }
    if n < last {
        add_range(tx, subnet, n + 1, last).await?;
    }
    Ok(())
}

/// Puts `n` back among the free ranges, joined to its neighbours.
async fn give_back(tx: &mut Tx, subnet: &str, n: u128) -> Result<()> {
    if range_holding(tx, subnet, n).await?.is_some() {
        return Ok(());
    }
    // The range ending just before `n` (its first address) and the one
    // starting just after it (its last).
    let before = match n.checked_sub(1) {
        Some(p) => {
            neighbour(tx, subnet, "SELECT first_key FROM ip_free_ranges WHERE subnet_id = ? AND last_key = ?", p)
                .await?
        }
        None => None,
    };
    let after = match n.checked_add(1) {
        Some(a) => {
            neighbour(tx, subnet, "SELECT last_key FROM ip_free_ranges WHERE subnet_id = ? AND first_key = ?", a)
                .await?
        }
        None => None,
    };
    for start in [before, after.map(|_| n + 1)].into_iter().flatten() {
        remove_range(tx, subnet, &key(start)).await?;
    }
    add_range(tx, subnet, before.unwrap_or(n), after.unwrap_or(n)).await
}

/// Takes back every address of a port, and returns those of the subnets'
/// pools to their free ranges.
pub async fn release_addresses(pool: &Pool, port: &str) -> Result<()> {
    let mut subnets: Vec<String> = db::query_scalar("SELECT DISTINCT subnet_id FROM ip_allocations WHERE port_id = ?")
        .bind(port)
        .fetch_all(pool)
        .await?;
    subnets.sort();
    for subnet in subnets {
        let claim = lock(pool, &subnet).await?;
        let mut tx = pool.begin_write().await?;
        let addresses: Vec<String> =
            db::query_scalar("SELECT ip_address FROM ip_allocations WHERE port_id = ? AND subnet_id = ?")
                .bind(port)
                .bind(&subnet)
                .fetch_all(&mut tx)
                .await?;
        db::query("DELETE FROM ip_allocations WHERE port_id = ? AND subnet_id = ?")
            .bind(port)
            .bind(&subnet)
            .execute(&mut tx)
            .await?;
        if built(&mut tx, &subnet).await? {
            let pools = subnet_row(&mut tx, &subnet).await?.map(|s| s.pool_ranges()).unwrap_or_default();
            for n in addresses.iter().filter_map(|a| address_number(a)).filter(|n| ipam::in_pools(&pools, *n)) {
                give_back(&mut tx, &subnet, n).await?;
            }
        }
        tx.commit().await?;
        claim.release().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_their_numbers() {
        let mut numbers = [0u128, 9, 10, 255, 256, u128::from(u32::MAX), u128::MAX];
        let mut keys: Vec<String> = numbers.iter().map(|n| key(*n)).collect();
        keys.sort();
        numbers.sort();
        assert_eq!(keys.iter().map(|k| number(k).unwrap()).collect::<Vec<_>>(), numbers);
    }
}
