-- Image lists read pages in their default order (newest first) from here.
CREATE INDEX images_listing ON images (created_at, id);
