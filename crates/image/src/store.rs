//! The images and image_members tables. No rules here: who sees or changes
//! what is the service's.

use oxistack_core::db::{self, Param, Pool, Select};
use oxistack_core::error::{Error, OnUnique, Result};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct ImageRow {
    pub id: String,
    pub name: Option<String>,
    pub owner: String,
    pub status: String,
    pub visibility: String,
    pub protected: bool,
    pub os_hidden: bool,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub properties: String,
    pub tags: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct MemberRow {
    pub image_id: String,
    pub member_id: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

pub fn not_found(id: &str) -> Error {
    Error::NotFound(format!("No image found with ID {id}"))
}

pub async fn get(pool: &Pool, id: &str) -> Result<ImageRow> {
    db::query_as("SELECT * FROM images WHERE id = ?").bind(id).fetch_optional(pool).await?.ok_or_else(|| not_found(id))
}

/// One way an image may be in a list (a list holds the images any of its
/// ways admit).
#[derive(Clone, Debug)]
pub enum Seen {
    Every,
    /// The images a project owns.
    OwnedBy(String),
    /// The images of one visibility.
    Visibility(&'static str),
    /// The shared images a project is a member of, with this member status
    /// (any when `None`).
    SharedWith {
        project: String,
        status: Option<String>,
    },
}

/// A column a list may be ordered by: never NULL, so that a keyset page
/// after a position is exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageOrder {
    Id,
    Status,
    Visibility,
    Owner,
    MinDisk,
    MinRam,
    CreatedAt,
    UpdatedAt,
}

impl ImageOrder {
    /// The order of Glance's sort key `key`, if it is one of these.
    pub fn of(key: &str) -> Option<ImageOrder> {
        Some(match key {
            "id" => ImageOrder::Id,
            "status" => ImageOrder::Status,
            "visibility" => ImageOrder::Visibility,
            "owner" => ImageOrder::Owner,
            "min_disk" => ImageOrder::MinDisk,
            "min_ram" => ImageOrder::MinRam,
            "created_at" => ImageOrder::CreatedAt,
            "updated_at" => ImageOrder::UpdatedAt,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            ImageOrder::Id => "id",
            ImageOrder::Status => "status",
            ImageOrder::Visibility => "visibility",
            ImageOrder::Owner => "owner",
            ImageOrder::MinDisk => "min_disk",
            ImageOrder::MinRam => "min_ram",
            ImageOrder::CreatedAt => "created_at",
            ImageOrder::UpdatedAt => "updated_at",
        }
    }

    /// This column's value in `img`, as a keyset position is given.
    pub fn value(self, img: &ImageRow) -> Param {
        match self {
            ImageOrder::Id => Param::Text(img.id.clone()),
            ImageOrder::Status => Param::Text(img.status.clone()),
            ImageOrder::Visibility => Param::Text(img.visibility.clone()),
            ImageOrder::Owner => Param::Text(img.owner.clone()),
            ImageOrder::MinDisk => Param::Int(img.min_disk),
            ImageOrder::MinRam => Param::Int(img.min_ram),
            ImageOrder::CreatedAt => Param::Text(img.created_at.clone()),
            ImageOrder::UpdatedAt => Param::Text(img.updated_at.clone()),
        }
    }
}

/// An image list: the ways images may be in it, then filters (each `None`
/// does not filter), an order (newest first when empty), a keyset
/// position and a row count.
#[derive(Clone, Debug, Default)]
pub struct ImageQuery {
    pub seen: Vec<Seen>,
    pub id: Option<String>,
    pub visibility: Option<String>,
    pub hidden: bool,
    pub name: Option<String>,
    pub status: Option<String>,
    pub owner: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size_min: Option<i64>,
    pub size_max: Option<i64>,
    pub protected: Option<bool>,
    /// Tags the image's tag list holds, narrowed by their JSON text (a
    /// superset: the caller checks them exactly).
    pub tags: Vec<String>,
    pub order: Vec<(ImageOrder, bool)>,
    pub after: Option<Vec<Param>>,
    pub limit: Option<i64>,
}

/// The images `q` selects, in its order.
pub async fn images(pool: &Pool, q: &ImageQuery) -> Result<Vec<ImageRow>> {
    let mut ways = vec![];
    let mut params = vec![];
    for seen in &q.seen {
        match seen {
            Seen::Every => ways.push("1 = 1"),
            Seen::OwnedBy(p) => {
                ways.push("owner = ?");
                params.push(Param::Text(p.clone()));
            }
            Seen::Visibility(v) => {
                ways.push("visibility = ?");
                params.push(Param::Text((*v).to_owned()));
            }
            Seen::SharedWith { project, status: None } => {
                ways.push("visibility = 'shared' AND id IN (SELECT image_id FROM image_members WHERE member_id = ?)");
                params.push(Param::Text(project.clone()));
            }
            Seen::SharedWith { project, status: Some(status) } => {
                ways.push(
                    "visibility = 'shared' AND id IN
                     (SELECT image_id FROM image_members WHERE member_id = ? AND status = ?)",
                );
                params.push(Param::Text(project.clone()));
                params.push(Param::Text(status.clone()));
            }
        }
    }
    let ways = if ways.is_empty() {
        "1 = 0".to_owned()
    } else {
        ways.iter().map(|w| format!("({w})")).collect::<Vec<_>>().join(" OR ")
    };
    let mut select = Select::new("SELECT * FROM images").filter(&ways, params).eq("os_hidden", q.hidden);
    for (column, value) in [
        ("id", &q.id),
        ("visibility", &q.visibility),
        ("name", &q.name),
        ("status", &q.status),
        ("owner", &q.owner),
        ("disk_format", &q.disk_format),
        ("container_format", &q.container_format),
    ] {
        if let Some(v) = value {
            select = select.eq(column, v.as_str());
        }
    }
    if let Some(m) = q.size_min {
        select = select.filter("size >= ?", [Param::Int(m)]);
    }
    if let Some(m) = q.size_max {
        select = select.filter("size <= ?", [Param::Int(m)]);
    }
    if let Some(p) = q.protected {
        select = select.eq("protected", p);
    }
    for tag in &q.tags {
        select = select.contains("tags", &serde_json::to_string(tag).unwrap_or_default());
    }
    let order: Vec<(&'static str, bool)> = if q.order.is_empty() {
        vec![("created_at", false), ("id", false)]
    } else {
        q.order.iter().map(|(o, asc)| (o.column(), *asc)).collect()
    };
    let (sql, params) = select.page(&order, q.after.as_deref(), q.limit).build();
    Ok(db::query_as::<ImageRow>(&sql).bind_all(params).fetch_all(pool).await?)
}

pub async fn insert(pool: &Pool, i: &ImageRow) -> Result<()> {
    db::query(
        "INSERT INTO images (id, name, owner, status, visibility, protected, os_hidden, disk_format, container_format,
            min_disk, min_ram, size, virtual_size, checksum, os_hash_algo, os_hash_value, properties, tags,
            created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&i.id)
    .bind(&i.name)
    .bind(&i.owner)
    .bind(&i.status)
    .bind(&i.visibility)
    .bind(i.protected)
    .bind(i.os_hidden)
    .bind(&i.disk_format)
    .bind(&i.container_format)
    .bind(i.min_disk)
    .bind(i.min_ram)
    .bind(i.size)
    .bind(i.virtual_size)
    .bind(&i.checksum)
    .bind(&i.os_hash_algo)
    .bind(&i.os_hash_value)
    .bind(&i.properties)
    .bind(&i.tags)
    .bind(&i.created_at)
    .bind(&i.updated_at)
    .execute(pool)
    .await
    .on_unique(|| Error::Conflict(format!("An image with identifier {} already exists", i.id)))?;
    Ok(())
}

/// Writes the attributes a user may change.
pub async fn update(pool: &Pool, i: &ImageRow) -> Result<()> {
    db::query(
        "UPDATE images SET name = ?, owner = ?, visibility = ?, protected = ?, os_hidden = ?, disk_format = ?,
            container_format = ?, min_disk = ?, min_ram = ?, properties = ?, tags = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&i.name)
    .bind(&i.owner)
    .bind(&i.visibility)
    .bind(i.protected)
    .bind(i.os_hidden)
    .bind(&i.disk_format)
    .bind(&i.container_format)
    .bind(i.min_disk)
    .bind(i.min_ram)
    .bind(&i.properties)
    .bind(&i.tags)
    .bind(&i.updated_at)
    .bind(&i.id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Moves an image from one of `from` to `to`; false when it was in none of them
/// (someone else moved it first).
pub async fn transition(pool: &Pool, id: &str, from: &[&str], to: &str, now: &str) -> Result<bool> {
    let placeholders = vec!["?"; from.len()].join(", ");
    let sql = format!("UPDATE images SET status = ?, updated_at = ? WHERE id = ? AND status IN ({placeholders})");
    let mut q = db::query(&sql).bind(to).bind(now).bind(id);
    for f in from {
        q = q.bind(*f);
    }
    Ok(q.execute(pool).await?.rows_affected() == 1)
}

/// Records the data of an image that is now active.
#[allow(clippy::too_many_arguments)]
pub async fn activate(
    pool: &Pool,
    id: &str,
    from: &str,
    size: i64,
    virtual_size: Option<i64>,
    checksum: &str,
    sha512: &str,
    now: &str,
) -> Result<bool> {
    let done = db::query(
        "UPDATE images SET status = 'active', size = ?, virtual_size = ?, checksum = ?, os_hash_algo = 'sha512',
            os_hash_value = ?, updated_at = ? WHERE id = ? AND status = ?",
    )
    .bind(size)
    .bind(virtual_size)
    .bind(checksum)
    .bind(sha512)
    .bind(now)
    .bind(id)
    .bind(from)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(pool: &Pool, id: &str) -> Result<()> {
    db::query("DELETE FROM images WHERE id = ?").bind(id).execute(pool).await?;
    Ok(())
}

/// Bytes of image data a project stores.
/// Records the size of staged data, so that the quota counts it.
pub async fn set_size(pool: &Pool, id: &str, size: i64) -> Result<()> {
    db::query("UPDATE images SET size = ? WHERE id = ?").bind(size).bind(id).execute(pool).await?;
    Ok(())
}

pub async fn usage(pool: &Pool, owner: &str) -> Result<i64> {
    Ok(db::query_scalar("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM images WHERE owner = ?")
        .bind(owner)
        .fetch_one(pool)
        .await?)
}

/// Puts images whose upload a stop interrupted back in the state before it.
pub async fn reset_interrupted(pool: &Pool) -> Result<u64> {
    let a = db::query("UPDATE images SET status = 'queued' WHERE status = 'saving'").execute(pool).await?;
    // Queued again, they hold no data: the size of what was staged goes too.
    let b = db::query("UPDATE images SET status = 'queued', size = NULL WHERE status IN ('uploading', 'importing')")
        .execute(pool)
        .await?;
    Ok(a.rows_affected() + b.rows_affected())
}

pub async fn members(pool: &Pool, image_id: &str) -> Result<Vec<MemberRow>> {
    Ok(db::query_as("SELECT * FROM image_members WHERE image_id = ? ORDER BY created_at, member_id")
        .bind(image_id)
        .fetch_all(pool)
        .await?)
}

pub async fn insert_member(pool: &Pool, m: &MemberRow) -> Result<()> {
    db::query("INSERT INTO image_members (image_id, member_id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&m.image_id)
        .bind(&m.member_id)
        .bind(&m.status)
        .bind(&m.created_at)
        .bind(&m.updated_at)
        .execute(pool)
        .await
        .on_unique(|| Error::Conflict(format!("Member {} already exists for image {}.", m.member_id, m.image_id)))?;
    Ok(())
}

pub async fn set_member_status(pool: &Pool, image_id: &str, member_id: &str, status: &str, now: &str) -> Result<()> {
    db::query("UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND member_id = ?")
        .bind(status)
        .bind(now)
        .bind(image_id)
        .bind(member_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_member(pool: &Pool, image_id: &str, member_id: &str) -> Result<bool> {
    let done = db::query("DELETE FROM image_members WHERE image_id = ? AND member_id = ?")
        .bind(image_id)
        .bind(member_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
