-- Symlinks: the `<container>/<object>` an object points to
-- (`X-Symlink-Target`), served in its place.
ALTER TABLE swift_objects ADD COLUMN symlink_target TEXT;
-- Object versioning: the container a container's older versions go to
-- (`X-Versions-Location`, mode `stack`: a delete brings the last one back;
-- `X-History-Location`, mode `history`: a delete archives the object too).
ALTER TABLE swift_containers ADD COLUMN versions_location TEXT;
ALTER TABLE swift_containers ADD COLUMN versions_mode TEXT;
