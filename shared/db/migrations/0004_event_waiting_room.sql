-- An event's waiting room (issue 14): the seller's settings, NULL when the room is off, and the
-- room's epoch, raised each time the room is turned on, so that admissions to an earlier room of
-- the same event stop counting. The queue itself lives in Redis (gateway/waiting-room/room-store.ts).
ALTER TABLE events
  ADD COLUMN waiting_room jsonb,
  ADD COLUMN waiting_room_epoch bigint NOT NULL DEFAULT 0;
