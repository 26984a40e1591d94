-- Holds that expire: each event's hold time, each held booking's deadline, the `expired` status.
ALTER TABLE events ADD COLUMN hold_seconds integer NOT NULL DEFAULT 900 CHECK (hold_seconds BETWEEN 1 AND 86400);
-- Set when the reserver decides a booking pending_payment; bookings held before this migration keep null (no deadline).
ALTER TABLE bookings ADD COLUMN expires_at timestamptz;
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
  CHECK (status IN ('pending_payment', 'completed', 'cancelled', 'failed', 'expired'));
-- The live holds of given subsections by deadline: a reserver that is assigned partitions loads
-- the holds of those partitions' subsections from here (reserver/expire-holds.ts). Partial, so
-- it holds only live holds and stays small however many bookings end.
CREATE INDEX bookings_holds_idx ON bookings (event_id, section, subsection, expires_at) WHERE status = 'pending_payment';
