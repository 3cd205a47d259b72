//! `block_device_mapping_v2` of a server create, and the legacy
//! `block_device_mapping`, read as Nova's schema and `BlockDeviceDict`
//! read them: each entry a volume (existing, or made from an image, a
//! snapshot or nothing) or the image as the local root disk.

use serde_json::{Map, Value};

use super::{bad, ApiResult, NovaFault};
use crate::block_devices::{BlockDevice, BlockSource, LocalDisk};
use crate::microversion::*;

/// The fields an entry may have, and the microversion each appeared in.
const FIELDS: &[(&str, ApiVersion)] = &[
    ("source_type", MIN),
    ("uuid", MIN),
    ("image_id", MIN),
    ("destination_type", MIN),
    ("guest_format", MIN),
    ("device_type", MIN),
    ("disk_bus", MIN),
    ("boot_index", MIN),
    ("device_name", MIN),
    ("delete_on_termination", MIN),
    ("snapshot_id", MIN),
    ("volume_id", MIN),
    ("volume_size", MIN),
    ("no_device", MIN),
    ("connection_info", MIN),
    ("tag", V2_42),
    ("volume_type", V2_67),
];

fn invalid(why: impl std::fmt::Display) -> NovaFault {
    bad(format!("Block Device Mapping is Invalid: {why}"))
}

fn field_error(k: &str, v: &Value, why: &str) -> NovaFault {
    bad(format!("Invalid input for field/attribute {k}. Value: {v}. {why}"))
}

/// An integer as Nova's schema takes it: a number or a string of digits.
fn integer(entry: &Map<String, Value>, k: &str) -> ApiResult<Option<i64>> {
    match entry.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| field_error(k, v, "is not an integer")),
        Some(v @ Value::String(s)) => s.trim().parse().map(Some).map_err(|_| field_error(k, v, "is not an integer")),
        Some(v) => Err(field_error(k, v, "is not of type 'integer', 'string'")),
    }
}

/// A boolean as Nova's `parameter_types.boolean` takes it.
fn boolean(entry: &Map<String, Value>, k: &str) -> ApiResult<bool> {
    match entry.get(k) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v @ Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" | "on" | "y" | "yes" => Ok(true),
            "0" | "f" | "false" | "off" | "n" | "no" => Ok(false),
            _ => Err(field_error(k, v, "is not of type 'boolean'")),
        },
        Some(v) => Err(field_error(k, v, "is not of type 'boolean'")),
    }
}

fn text(entry: &Map<String, Value>, k: &str) -> ApiResult<Option<String>> {
    match entry.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(field_error(k, v, "is not of type 'string'")),
    }
}

/// What a create request's mappings ask for.
#[derive(Debug, Default)]
pub struct Mappings {
    pub volumes: Vec<BlockDevice>,
    /// The image of an entry naming it as the local root disk (`imageRef`
    /// may then be empty).
    pub image: Option<String>,
    /// Blank local disks: the flavor's ephemeral and swap disks, named.
    pub local: Vec<LocalDisk>,
}

pub fn parse(server: &Map<String, Value>, v: ApiVersion) -> ApiResult<Mappings> {
    match (server.get("block_device_mapping_v2"), server.get("block_device_mapping")) {
        (Some(_), Some(_)) => Err(bad("Using different block_device_mapping syntaxes is not allowed.")),
        (Some(list), None) => {
            let mut m = Mappings::default();
            for entry in entries(list, "block_device_mapping_v2")? {
                match parse_v2(entry, v)? {
                    Entry::Volume(d) => m.volumes.push(d),
                    Entry::LocalImage(i) => m.image = Some(i),
                    Entry::Local(d) => m.local.push(d),
                }
            }
            Ok(m)
        }
        (None, Some(list)) => {
            let volumes = entries(list, "block_device_mapping")?.iter().map(parse_legacy).collect::<ApiResult<_>>()?;
            Ok(Mappings { volumes, ..Default::default() })
        }
        (None, None) => Ok(Mappings::default()),
    }
}

fn entries<'a>(list: &'a Value, k: &str) -> ApiResult<Vec<&'a Map<String, Value>>> {
    let list = list.as_array().ok_or_else(|| field_error(k, list, "is not of type 'array'"))?;
    list.iter().map(|e| e.as_object().ok_or_else(|| field_error(k, e, "is not of type 'object'"))).collect()
}

enum Entry {
    Volume(BlockDevice),
    /// `source_type: image, destination_type: local, boot_index: 0`: the
    /// image boot of `imageRef`, written as a mapping.
    LocalImage(String),
    /// `source_type: blank, destination_type: local`.
    Local(LocalDisk),
}

fn parse_v2(e: &Map<String, Value>, v: ApiVersion) -> ApiResult<Entry> {
    for k in e.keys() {
        if !FIELDS.iter().any(|(name, since)| name == k && v >= *since) {
            return Err(bad(format!(
                "Invalid input for field/attribute block_device_mapping_v2. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    let source = text(e, "source_type")?.unwrap_or_else(|| "volume".into());
    let uuid = text(e, "uuid")?;
    if uuid
        .as_deref()
        .is_some_and(|u| u.is_empty() || !u.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
    {
        return Err(invalid("Device UUID is invalid."));
    }
    let boot_index = integer(e, "boot_index")?.filter(|i| *i >= 0);
    let destination = match text(e, "destination_type")?.as_deref() {
        Some("volume") => "volume",
        Some("local") => "local",
        Some(other) => {
            return Err(bad(format!(
                "Invalid input for field/attribute destination_type. Value: {other}. '{other}' is not one of ['local', 'volume']"
            )))
        }
        None if source == "image" || source == "blank" => "local",
        None => "volume",
    };
    let needs_uuid = || uuid.clone().ok_or_else(|| invalid("Missing device UUID."));
    let source = match source.as_str() {
        "image" if destination == "local" => {
            if boot_index != Some(0) {
                return Err(invalid("Mapping image to local is not supported."));
            }
            return Ok(Entry::LocalImage(needs_uuid()?));
        }
        "image" => BlockSource::Image(needs_uuid()?),
        "volume" => BlockSource::Volume(needs_uuid()?),
        "snapshot" => BlockSource::Snapshot(needs_uuid()?),
        "blank" if uuid.is_some() => return Err(invalid("Blank device should not have a UUID.")),
        "blank" if destination == "local" => {
            let swap = text(e, "guest_format")?.as_deref() == Some("swap");
            return Ok(Entry::Local(LocalDisk { swap, size: integer(e, "volume_size")? }));
        }
        "blank" => BlockSource::Blank,
        other => {
            return Err(bad(format!(
                "Invalid input for field/attribute source_type. Value: {other}. '{other}' is not one of ['volume', 'image', 'snapshot', 'blank']"
            )))
        }
    };
    if destination == "local" {
        return Err(invalid(format!("Mapping a {} to a local disk is not supported.", kind(&source))));
    }
    let volume_size = integer(e, "volume_size")?;
    if matches!(source, BlockSource::Image(_) | BlockSource::Blank) && volume_size.is_none_or(|s| s <= 0) {
        return Err(invalid(format!(
            "{} with destination_type 'volume' need to have a non-zero size specified",
            if matches!(source, BlockSource::Image(_)) { "Images" } else { "Blank volumes" }
        )));
    }
    Ok(Entry::Volume(BlockDevice {
        source,
        boot_index,
        volume_size,
        delete_on_termination: boolean(e, "delete_on_termination")?,
        device_name: device_name(e)?,
        tag: text(e, "tag")?,
        volume_type: text(e, "volume_type")?,
    }))
}

fn kind(source: &BlockSource) -> &'static str {
    match source {
        BlockSource::Image(_) => "image",
        BlockSource::Volume(_) => "volume",
        BlockSource::Snapshot(_) => "snapshot",
        BlockSource::Blank => "blank device",
    }
}

/// A device name of at most 255 characters without spaces, as Nova's
/// schema takes it.
fn device_name(e: &Map<String, Value>) -> ApiResult<Option<String>> {
    let name = text(e, "device_name")?;
    if let Some(n) = &name {
        if n.is_empty() || n.len() > 255 || n.chars().any(char::is_whitespace) {
            return Err(field_error("device_name", &Value::String(n.clone()), "is not a valid device name"));
        }
    }
    Ok(name)
}

/// A legacy entry: `volume_id` or `snapshot_id` on `device_name`; the one
/// on the root device (`vda`) is the root disk.
fn parse_legacy(e: &&Map<String, Value>) -> ApiResult<BlockDevice> {
    const LEGACY: &[&str] = &[
        "device_name",
        "volume_id",
        "snapshot_id",
        "volume_size",
        "delete_on_termination",
        "no_device",
        "virtual_name",
    ];
    if let Some(k) = e.keys().find(|k| !LEGACY.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute block_device_mapping. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let source = match (text(e, "volume_id")?, text(e, "snapshot_id")?) {
        (Some(v), _) => BlockSource::Volume(v),
        (None, Some(s)) => BlockSource::Snapshot(s),
        (None, None) => return Err(invalid("Missing device UUID.")),
    };
    let name = device_name(e)?;
    let root = name.as_deref().is_some_and(|n| n.trim_start_matches("/dev/") == "vda");
    Ok(BlockDevice {
        source,
        boot_index: root.then_some(0),
        volume_size: integer(e, "volume_size")?,
        delete_on_termination: boolean(e, "delete_on_termination")?,
        device_name: name,
        tag: None,
        volume_type: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(server: Value) -> ApiResult<(Vec<BlockDevice>, Option<String>)> {
        parse(server.as_object().unwrap(), MAX).map(|m| (m.volumes, m.image))
    }

    #[test]
    fn a_volume_made_from_an_image_is_the_root_disk() {
        let (devices, image) = parsed(json!({"block_device_mapping_v2": [{
            "uuid": "img", "source_type": "image", "destination_type": "volume",
            "boot_index": "0", "volume_size": 2, "delete_on_termination": "true"}]}))
        .unwrap();
        assert_eq!(image, None);
        assert_eq!(devices[0].source, BlockSource::Image("img".into()));
        assert!(devices[0].is_root() && devices[0].delete_on_termination);
        assert_eq!(devices[0].volume_size, Some(2));
    }

    #[test]
    fn the_image_as_local_root_is_an_image_boot() {
        let (devices, image) = parsed(json!({"block_device_mapping_v2": [
            {"uuid": "img", "source_type": "image", "destination_type": "local", "boot_index": 0},
            {"uuid": "vol", "source_type": "volume", "destination_type": "volume", "boot_index": -1}]}))
        .unwrap();
        assert_eq!(image.as_deref(), Some("img"));
        assert_eq!(devices.len(), 1);
        assert!(!devices[0].is_root());
    }

    #[test]
    fn what_nova_refuses_is_refused() {
        for bad in [
            json!({"block_device_mapping_v2": [{"source_type": "image", "uuid": "i", "destination_type": "volume"}]}),
            json!({"block_device_mapping_v2": [{"source_type": "volume", "destination_type": "volume"}]}),
            json!({"block_device_mapping_v2": [{"source_type": "blank", "uuid": "x", "volume_size": 1}]}),
            json!({"block_device_mapping_v2": [{"source_type": "image", "uuid": "i", "destination_type": "local"}]}),
            json!({"block_device_mapping_v2": [{"source_type": "volume", "uuid": "v", "bogus": 1}]}),
            json!({"block_device_mapping_v2": [], "block_device_mapping": []}),
        ] {
            assert!(parsed(bad.clone()).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn blank_local_disks_are_ephemeral_or_swap() {
        let m = parse(
            json!({"block_device_mapping_v2": [
                {"source_type": "blank", "destination_type": "local", "volume_size": 1, "boot_index": -1},
                {"source_type": "blank", "destination_type": "local", "guest_format": "swap"}]})
            .as_object()
            .unwrap(),
            MAX,
        )
        .unwrap();
        assert_eq!(m.local, [LocalDisk { swap: false, size: Some(1) }, LocalDisk { swap: true, size: None }]);
    }

    #[test]
    fn a_legacy_mapping_on_vda_is_the_root_disk() {
        let (devices, _) = parsed(json!({"block_device_mapping": [
            {"device_name": "vda", "volume_id": "v1", "delete_on_termination": "0"},
            {"device_name": "/dev/vdb", "snapshot_id": "s1", "volume_size": "1"}]}))
        .unwrap();
        assert!(devices[0].is_root());
        assert_eq!(devices[1].source, BlockSource::Snapshot("s1".into()));
        assert!(!devices[1].is_root());
    }
}
