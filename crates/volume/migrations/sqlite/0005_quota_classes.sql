-- Quota classes (Cinder's `quota_classes`): limits by class name; the
-- limits of class `default` are every project's defaults.
CREATE TABLE volume_quota_classes (
    class_name TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (class_name, resource)
);
