-- Reserving, releasing and selling a ticket change only its status and booking_id. With
-- neither indexed and room left on each page, PostgreSQL updates the row in place (a HOT
-- update) without touching any index: the reserver's largest write cost. A booking's
-- tickets are found through its seat_positions and the unique seat index instead.
DROP INDEX tickets_booking_idx;
ALTER TABLE tickets SET (fillfactor = 85);
