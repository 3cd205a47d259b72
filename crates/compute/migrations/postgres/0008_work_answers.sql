-- A question for the server of another host (an instance's console log),
-- answered in its row: the asking server reads the answer and deletes it.
ALTER TABLE compute_work ADD COLUMN answer TEXT;
