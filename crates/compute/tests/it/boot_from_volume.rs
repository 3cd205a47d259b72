//! Servers booted from volumes (`block_device_mapping_v2`, and the legacy
//! `block_device_mapping`): the volume made or taken, the root disk the
//! driver gets, and what rebuild, rescue, detach, shelve and delete do to
//! a server that has no image of its own.

use super::*;

impl Cloud {
    /// Creates a server from `server` (name, flavor and networks added)
    /// as `token`; the answer.
    async fn create(&self, token: &str, version: &str, mut server: Value) -> (StatusCode, Value) {
        server["name"] = json!("bfv");
        if server.get("flavorRef").is_none() {
            server["flavorRef"] = json!("1");
        }
        server["networks"] = json!("none");
        self.call(token, version, Method::POST, "/v2.1/servers", Some(json!({ "server": server }))).await
    }

    async fn attached_volumes(&self, server: &str) -> Value {
        let (_, r) = self
            .call("admin", "2.79", Method::GET, &format!("/v2.1/servers/{server}/os-volume_attachments"), None)
            .await;
        r["volumeAttachments"].clone()
    }
}

#[tokio::test]
async fn a_server_boots_from_a_volume_made_from_an_image_and_keeps_it() {
    let c = cloud().await;
    let bdm = json!([{"uuid": c.image_id, "source_type": "image", "destination_type": "volume",
        "boot_index": 0, "volume_size": 1, "delete_on_termination": false}]);
    let (status, r) = c.create("member", "2.79", json!({"imageRef": "", "block_device_mapping_v2": bdm})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let server = r["server"]["id"].as_str().unwrap().to_owned();
    let s = c.wait_for(&server, "ACTIVE").await;
    // No image: Nova shows "". The root volume is listed and plugged in.
    assert_eq!(s["image"], "");
    let attached = c.attached_volumes(&server).await;
    assert_eq!(attached.as_array().unwrap().len(), 1, "{attached}");
    assert_eq!(attached[0]["device"], "/dev/vda");
    let root = attached[0]["volumeId"].as_str().unwrap().to_owned();
    assert_eq!(s["os-extended-volumes:volumes_attached"], json!([{"id": root, "delete_on_termination": false}]));
    let plugged = c.driver.volumes(&server);
    assert_eq!(plugged.iter().map(|v| v.volume_id.as_str()).collect::<Vec<_>>(), [root.as_str()]);
    let v = c.volume_status("member", &root, "in-use").await;
    assert_eq!((v["bootable"].as_str(), v["size"].as_i64()), (Some("true"), Some(1)));
    assert_eq!(v["volume_image_metadata"]["image_id"], c.image_id.as_str());
    assert_eq!(v["attachments"][0]["server_id"], server.as_str());

    // The root volume is not detached; a volume-backed server is not rescued.
    let (status, r) = c
        .call("member", "2.1", Method::DELETE, &format!("/v2.1/servers/{server}/os-volume_attachments/{root}"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["badRequest"]["message"], "Cannot detach a root device volume");
    let (status, _) = c.action("2.1", &server, json!({"rescue": {}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Rebuild: before 2.93 only with the image the volume holds; from
    // 2.93 the volume is reimaged.
    let admin = caller("admin-user", "p1", &["admin", "member", "reader"]);
    let body = json!({"name": "other", "disk_format": "raw", "container_format": "bare"});
    let other = c.volume.images.create(&admin, body.as_object().unwrap()).await.unwrap();
    c.volume.images.upload(&admin, &other.id, Body::from(vec![7u8; 2048])).await.unwrap();
    let (status, r) = c.action("2.92", &server, json!({"rebuild": {"imageRef": other.id}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    let (status, r) = c.action("2.92", &server, json!({"rebuild": {"imageRef": c.image_id}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    c.wait_for(&server, "ACTIVE").await;
    let (status, r) = c.action("2.93", &server, json!({"rebuild": {"imageRef": other.id}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let s = c.wait_for(&server, "ACTIVE").await;
    assert_eq!(s["image"], "", "a volume-backed server still shows no image");
    let v = c.volume_status("member", &root, "in-use").await;
    assert_eq!(v["volume_image_metadata"]["image_id"], other.id.as_str(), "the root volume holds the new image");
    assert_eq!(c.driver.volumes(&server)[0].volume_id, root);

    // Shelved, the root volume stays attached and no image is made;
    // unshelved, the server boots from it again.
    let (_, before) = c.call("member", "2.1", Method::GET, "/v2.1/images", None).await;
    let (status, _) = c.action("2.1", &server, json!({"shelve": null})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    c.wait_for(&server, "SHELVED_OFFLOADED").await;
    let (_, after) = c.call("member", "2.1", Method::GET, "/v2.1/images", None).await;
    assert_eq!(before["images"].as_array().unwrap().len(), after["images"].as_array().unwrap().len());
    c.volume_status("member", &root, "in-use").await;
    let (status, _) = c.action("2.1", &server, json!({"unshelve": null})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    c.wait_for(&server, "ACTIVE").await;
    assert_eq!(c.driver.volumes(&server)[0].volume_id, root);

    // Deleted without delete_on_termination, the volume stays, available,
    // and a new server boots from it.
    let (status, _) = c.call("member", "2.1", Method::DELETE, &format!("/v2.1/servers/{server}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    c.volume_status("member", &root, "available").await;
    let bdm = json!([{"uuid": root, "source_type": "volume", "destination_type": "volume", "boot_index": "0",
        "delete_on_termination": true}]);
    let (status, r) = c.create("member", "2.1", json!({"block_device_mapping_v2": bdm})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let again = r["server"]["id"].as_str().unwrap().to_owned();
    c.wait_for(&again, "ACTIVE").await;
    assert_eq!(c.driver.volumes(&again)[0].volume_id, root);
    // With delete_on_termination, it goes with the server.
    let (status, _) = c.call("member", "2.1", Method::DELETE, &format!("/v2.1/servers/{again}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    c.volume_gone("member", &root, "a delete_on_termination root volume outlived its server").await;
}

#[tokio::test]
async fn block_device_mappings_are_checked_before_a_server_is_made() {
    let c = cloud().await;
    let blank = c.new_volume("member").await;
    let theirs = c.new_volume("other").await;
    let root = |id: &str| json!([{"uuid": id, "source_type": "volume", "destination_type": "volume", "boot_index": 0}]);
    let refused = [
        // A blank volume does not boot.
        (json!({"block_device_mapping_v2": root(&blank)}), "Block Device"),
        // Another project's volume is not found.
        (json!({"block_device_mapping_v2": root(&theirs)}), "failed to get volume"),
        // Nothing to boot from.
        (
            json!({"imageRef": "", "block_device_mapping_v2": [{"source_type": "blank", "destination_type": "volume",
            "volume_size": 1}]}),
            "Boot sequence",
        ),
        // A volume made from an image needs a size that holds it.
        (
            json!({"block_device_mapping_v2": [{"uuid": c.image_id, "source_type": "image",
            "destination_type": "volume", "boot_index": 0}]}),
            "non-zero size",
        ),
        // Both syntaxes at once.
        (json!({"imageRef": c.image_id, "block_device_mapping_v2": [], "block_device_mapping": []}), "syntaxes"),
    ];
    for (server, why) in refused {
        let (status, r) = c.create("member", "2.1", server.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{server}: {r}");
        assert!(r["badRequest"]["message"].as_str().unwrap().contains(why), "{server}: {r}");
    }
    // One volume is not given to two servers.
    let (status, r) = c
        .create(
            "member",
            "2.1",
            json!({"imageRef": c.image_id, "max_count": 2, "block_device_mapping_v2": [
            {"uuid": blank, "source_type": "volume", "destination_type": "volume", "boot_index": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    let (_, r) = c.call("member", "2.1", Method::GET, "/v2.1/servers", None).await;
    assert_eq!(r["servers"], json!([]), "no server was made by a refused request");
    c.volume_status("member", &blank, "available").await;

    // An image boot with volumes beside it: an existing one, and a blank
    // one made for it (the legacy syntax names only existing ones).
    let (status, r) = c
        .create(
            "member",
            "2.42",
            json!({"imageRef": c.image_id, "block_device_mapping_v2": [
            {"uuid": c.image_id, "source_type": "image", "destination_type": "local", "boot_index": 0},
            {"uuid": blank, "source_type": "volume", "destination_type": "volume", "tag": "data"},
            {"source_type": "blank", "destination_type": "volume", "volume_size": 1, "delete_on_termination": true}]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let server = r["server"]["id"].as_str().unwrap().to_owned();
    let s = c.wait_for(&server, "ACTIVE").await;
    assert_eq!(s["image"]["id"], c.image_id.as_str());
    let attached = c.attached_volumes(&server).await;
    let mut devices: Vec<(&str, &str)> = attached
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["device"].as_str().unwrap(), a["volumeId"].as_str().unwrap()))
        .collect();
    devices.sort();
    assert_eq!((devices[0], devices[1].0), (("/dev/vdb", blank.as_str()), "/dev/vdc"), "{attached}");
    assert_eq!(c.driver.volumes(&server).len(), 2);
    c.volume_status("member", &blank, "in-use").await;

    // The legacy mapping on vda boots from the volume.
    let kept = c.new_volume("member").await;
    c.call_volume(
        "member",
        Method::POST,
        &format!("/v3/volumes/{kept}/action"),
        Some(json!({"os-set_bootable": {"bootable": true}})),
    )
    .await;
    let (status, r) = c
        .create(
            "member",
            "2.1",
            json!({"imageRef": "", "block_device_mapping": [
            {"device_name": "vda", "volume_id": kept, "delete_on_termination": "0"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let legacy = r["server"]["id"].as_str().unwrap().to_owned();
    let s = c.wait_for(&legacy, "ACTIVE").await;
    assert_eq!(s["image"], "");
    assert_eq!(c.driver.volumes(&legacy)[0].volume_id, kept);
}

#[tokio::test]
async fn a_build_whose_volume_cannot_be_made_fails_and_lets_its_volumes_go() {
    let c = cloud().await;
    let kept = c.new_volume("member").await;
    // The project may have one more volume only: the blank one to be made
    // is past the quota, so the build fails after the existing one was
    // reserved.
    let (status, r) =
        c.call_volume("admin", Method::PUT, "/v3/os-quota-sets/p1", Some(json!({"quota_set": {"volumes": 1}}))).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let (status, r) = c
        .create(
            "member",
            "2.1",
            json!({"imageRef": c.image_id, "block_device_mapping_v2": [
            {"uuid": kept, "source_type": "volume", "destination_type": "volume"},
            {"source_type": "blank", "destination_type": "volume", "volume_size": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let server = r["server"]["id"].as_str().unwrap().to_owned();
    let s = c.wait_for(&server, "ERROR").await;
    assert!(s["fault"]["message"].as_str().unwrap().contains("VolumeLimitExceeded"), "{s}");
    c.volume_status("member", &kept, "available").await;
    assert_eq!(c.attached_volumes(&server).await, json!([]));
}

#[tokio::test]
async fn a_snapshot_of_a_volume_backed_server_boots_new_volumes() {
    let c = cloud().await;
    let bdm = json!([{"uuid": c.image_id, "source_type": "image", "destination_type": "volume",
        "boot_index": 0, "volume_size": 1}]);
    let (status, r) = c.create("member", "2.45", json!({"block_device_mapping_v2": bdm})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let server = r["server"]["id"].as_str().unwrap().to_owned();
    c.wait_for(&server, "ACTIVE").await;
    let root = c.attached_volumes(&server).await[0]["volumeId"].as_str().unwrap().to_owned();

    let (status, r) =
        c.action("2.45", &server, json!({"createImage": {"name": "bfv-snap", "metadata": {"k": "v"}}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let image_id = r["image_id"].as_str().unwrap().to_owned();
    c.wait_for(&server, "ACTIVE").await;
    // The image is active without data and maps a snapshot of the volume.
    let member = caller("member-user", "p1", &["member", "reader"]);
    let image = c.volume.images.visible(&member, &image_id).await.unwrap();
    assert_eq!((image.status.as_str(), image.size), ("active", Some(0)));
    let properties: Value = serde_json::from_str(&image.properties).unwrap();
    assert_eq!((properties["bdm_v2"].as_str(), properties["k"].as_str()), (Some("True"), Some("v")));
    let mapped: Value = serde_json::from_str(properties["block_device_mapping"].as_str().unwrap()).unwrap();
    assert_eq!((mapped[0]["boot_index"].as_i64(), mapped[0]["source_type"].as_str()), (Some(0), Some("snapshot")));
    let snapshot = mapped[0]["snapshot_id"].as_str().unwrap().to_owned();
    let (status, s) = c.call_volume("member", Method::GET, &format!("/v3/snapshots/{snapshot}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["snapshot"]["volume_id"], root.as_str());

    // A server booted from the image boots from a new volume of the snapshot.
    for _ in 0..200 {
        let (_, s) = c.call_volume("member", Method::GET, &format!("/v3/snapshots/{snapshot}"), None).await;
        if s["snapshot"]["status"] == "available" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, r) = c.create("member", "2.1", json!({"imageRef": image_id})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let copy = r["server"]["id"].as_str().unwrap().to_owned();
    let s = c.wait_for(&copy, "ACTIVE").await;
    assert_eq!(s["image"]["id"], image_id.as_str());
    let attached = c.attached_volumes(&copy).await;
    let new_root = attached[0]["volumeId"].as_str().unwrap();
    assert_ne!(new_root, root);
    let v = c.volume_status("member", new_root, "in-use").await;
    assert_eq!(v["snapshot_id"], snapshot.as_str());
    assert_eq!(c.driver.volumes(&copy)[0].volume_id, new_root);
}

#[tokio::test]
async fn a_volume_backed_server_resizes_to_a_smaller_disk_flavor() {
    let c = cloud().await;
    let bdm = json!([{"uuid": c.image_id, "source_type": "image", "destination_type": "volume",
        "boot_index": 0, "volume_size": 1}]);
    let (status, r) = c.create("member", "2.1", json!({"flavorRef": "2", "block_device_mapping_v2": bdm})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let server = r["server"]["id"].as_str().unwrap().to_owned();
    c.wait_for(&server, "ACTIVE").await;
    // m1.small's 20 GB disk to m1.tiny's 1 GB: the flavor's disk is not
    // the server's root disk, which keeps its size.
    let (status, r) = c.action("2.1", &server, json!({"resize": {"flavorRef": "1"}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    c.wait_for(&server, "VERIFY_RESIZE").await;
    let (status, _) = c.action("2.1", &server, json!({"confirmResize": null})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let s = c.wait_for(&server, "ACTIVE").await;
    assert_eq!(s["flavor"]["original_name"], "m1.tiny");
    let root = c.attached_volumes(&server).await[0]["volumeId"].as_str().unwrap().to_owned();
    assert_eq!(c.volume_status("member", &root, "in-use").await["size"], 1);
}

#[tokio::test]
async fn blank_local_mappings_name_the_flavors_own_disks() {
    let c = cloud().await;
    let flavor = json!({"flavor": {"name": "eph", "ram": 64, "vcpus": 1, "disk": 1,
        "OS-FLV-EXT-DATA:ephemeral": 1, "swap": 64, "id": "eph"}});
    let (status, r) = c.call("admin", "2.1", Method::POST, "/v2.1/flavors", Some(flavor)).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let local = |size: i64| {
        json!([
            {"uuid": c.image_id, "source_type": "image", "destination_type": "local", "boot_index": 0},
            {"source_type": "blank", "destination_type": "local", "volume_size": size, "boot_index": -1},
            {"source_type": "blank", "destination_type": "local", "guest_format": "swap", "volume_size": 64}
        ])
    };
    let (status, r) = c.create("member", "2.1", json!({"flavorRef": "eph", "block_device_mapping_v2": local(1)})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    c.wait_for(r["server"]["id"].as_str().unwrap(), "ACTIVE").await;
    let (status, r) = c.create("member", "2.1", json!({"flavorRef": "eph", "block_device_mapping_v2": local(2)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    assert!(r["badRequest"]["message"].as_str().unwrap().starts_with("Ephemeral disks requested are larger"));
    // m1.tiny has neither.
    let (status, r) = c.create("member", "2.1", json!({"block_device_mapping_v2": local(1)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
}
