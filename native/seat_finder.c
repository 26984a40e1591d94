// The best-available seat finder of shared/seat-finder.ts in C, for the reserver's hot path.
// Same contract, same answers (a differential test holds both to it): MSB-first Redis bit
// order, a map shorter than rows * cols bits reads as free past its end, the first free run of
// `quantity` seats in one row wins, otherwise free runs combine biggest first, ties by position.
//
// Runs are found a 64-seat word at a time: a word holds the next 64 seats with the first seat in
// the most significant bit, so count-leading-zeros of the word (or of its complement) is the
// length of the free (or taken) stretch that starts here, and a row is crossed in one step per
// stretch instead of one per seat.
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Bit indexes are int32 in the TypeScript finder (`i >> 3`); refusing larger grids keeps both alike.
#define MAX_SEATS 2147483647u

// Candidate runs kept on the stack before the first allocation; a quantity of 4 keeps at most 8.
#define INLINE_RUNS 64

static inline unsigned leading_zeros(uint64_t word) {
  return word == 0 ? 64 : (unsigned)__builtin_clzll(word);
}

static inline uint64_t load_be64(const uint8_t *bytes) {
  uint64_t word;
  memcpy(&word, bytes, sizeof word);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  word = __builtin_bswap64(word);
#endif
  return word;
}

// The 64 seats from bit `pos` on, first seat in the most significant bit; bytes past `len` read as free.
static inline uint64_t seats_at(const uint8_t *map, size_t len, uint64_t pos) {
  size_t byte = (size_t)(pos >> 3);
  unsigned shift = (unsigned)(pos & 7);
  if (byte + 9 <= len) {
    uint64_t word = load_be64(map + byte);
    return shift == 0 ? word : (word << shift) | (uint64_t)(map[byte + 8] >> (8 - shift));
  }
  uint64_t word = 0;
  for (unsigned k = 0; k < 8; k++) word = (word << 8) | (byte + k < len ? map[byte + k] : 0);
  if (shift != 0) word = (word << shift) | (uint64_t)((byte + 8 < len ? map[byte + 8] : 0) >> (8 - shift));
  return word;
}

typedef struct {
  uint32_t start;
  uint32_t length;
} run_t;

// Runs shorter than the quantity, in position order, each length capped at the count that could ever be taken.
typedef struct {
  run_t *items;
  size_t count;
  size_t capacity;
  run_t inline_items[INLINE_RUNS];
  uint32_t *per_length;  // runs kept per length, lengths 1 .. max_length
  uint32_t max_length;
  uint32_t inline_per_length[INLINE_RUNS];
} runs_t;

static int runs_init(runs_t *runs, uint32_t max_length) {
  runs->items = runs->inline_items;
  runs->count = 0;
  runs->capacity = INLINE_RUNS;
  runs->max_length = max_length;
  if ((size_t)max_length + 1 <= INLINE_RUNS) {
    runs->per_length = runs->inline_per_length;
    memset(runs->per_length, 0, ((size_t)max_length + 1) * sizeof *runs->per_length);
    return 1;
  }
  runs->per_length = calloc((size_t)max_length + 1, sizeof *runs->per_length);
  return runs->per_length != NULL;
}

static void runs_free(runs_t *runs) {
  if (runs->items != runs->inline_items) free(runs->items);
  if (runs->per_length != runs->inline_per_length) free(runs->per_length);
}

// Keeps a closed run unless enough runs of its length are already kept to fill the quantity alone.
static int runs_add(runs_t *runs, uint32_t start, uint32_t length, uint32_t quantity) {
  if ((uint64_t)runs->per_length[length] * length >= quantity) return 1;
  if (runs->count == runs->capacity) {
    size_t capacity = runs->capacity * 2;
    run_t *items = runs->items == runs->inline_items ? malloc(capacity * sizeof *items) : realloc(runs->items, capacity * sizeof *items);
    if (items == NULL) return 0;
    if (runs->items == runs->inline_items) memcpy(items, runs->inline_items, sizeof runs->inline_items);
    runs->items = items;
    runs->capacity = capacity;
  }
  runs->items[runs->count++] = (run_t){start, length};
  runs->per_length[length]++;
  return 1;
}

typedef enum { FOUND, NOT_ENOUGH, OUT_OF_MEMORY } outcome_t;

// Writes `quantity` seat indexes to `seats`; FOUND, NOT_ENOUGH free seats, or OUT_OF_MEMORY.
static outcome_t find_seats(const uint8_t *map, size_t len, uint32_t rows, uint32_t cols, uint32_t quantity, double *seats) {
  uint32_t max_length = quantity - 1 < cols ? quantity - 1 : cols;
  runs_t runs;
  if (!runs_init(&runs, max_length)) return OUT_OF_MEMORY;

  uint64_t row_start = 0;
  for (uint32_t row = 0; row < rows; row++, row_start += cols) {
    uint64_t pos = row_start;
    uint64_t row_end = row_start + cols;
    uint64_t run_start = 0;
    uint32_t run_length = 0;
    while (pos < row_end) {
      uint64_t word = seats_at(map, len, pos);
      unsigned avail = row_end - pos < 64 ? (unsigned)(row_end - pos) : 64;
      while (avail > 0) {
        unsigned taken = leading_zeros(~word);
        if (taken > 0) {
          if (taken > avail) taken = avail;
          if (run_length > 0 && !runs_add(&runs, (uint32_t)run_start, run_length, quantity)) goto out_of_memory;
          run_length = 0;
          pos += taken;
          avail -= taken;
          word = taken == 64 ? 0 : word << taken;
          continue;
        }
        unsigned free_seats = leading_zeros(word);
        if (free_seats > avail) free_seats = avail;
        if (run_length == 0) run_start = pos;
        run_length += free_seats;
        if (run_length >= quantity) {
          for (uint32_t k = 0; k < quantity; k++) seats[k] = (double)(run_start + k);
          runs_free(&runs);
          return FOUND;
        }
        pos += free_seats;
        avail -= free_seats;
        word = free_seats == 64 ? 0 : word << free_seats;
      }
    }
    if (run_length > 0 && !runs_add(&runs, (uint32_t)run_start, run_length, quantity)) goto out_of_memory;
  }

  // No run is long enough: take the kept runs longest first, each length in position order,
  // by a counting sort on length (per_length turns into the next slot for each length).
  uint32_t inline_order[INLINE_RUNS];
  uint32_t *order = runs.count <= INLINE_RUNS ? inline_order : malloc(runs.count * sizeof *order);
  if (order == NULL) goto out_of_memory;
  uint32_t slot = 0;
  for (uint32_t length = max_length; length >= 1; length--) {
    uint32_t count = runs.per_length[length];
    runs.per_length[length] = slot;
    slot += count;
  }
  for (size_t r = 0; r < runs.count; r++) order[runs.per_length[runs.items[r].length]++] = (uint32_t)r;
  uint32_t taken_seats = 0;
  for (size_t o = 0; o < runs.count && taken_seats < quantity; o++) {
    const run_t *run = &runs.items[order[o]];
    for (uint32_t k = 0; k < run->length && taken_seats < quantity; k++) seats[taken_seats++] = (double)(run->start + k);
  }
  if (order != inline_order) free(order);
  runs_free(&runs);
  return taken_seats == quantity ? FOUND : NOT_ENOUGH;

out_of_memory:
  runs_free(&runs);
  return OUT_OF_MEMORY;
}

// An N-API call that failed without throwing still has to reach JavaScript as an error.
static napi_value napi_failed(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_NAPI", "seat finder: an N-API call failed");
  return NULL;
}

// Reads a whole, non-negative number of at most MAX_SEATS; throws a RangeError and returns 0 otherwise.
static int read_count(napi_env env, double number, const char *name, uint32_t *out) {
  // NaN fails every comparison, so it is refused here too.
  if (!(number >= 0 && number <= MAX_SEATS) || number != (double)(uint32_t)number) {
    char message[128];
    snprintf(message, sizeof message, "seat finder: %s must be a whole number from 0 to %u, got %g", name, MAX_SEATS, number);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return 0;
  }
  *out = (uint32_t)number;
  return 1;
}

// Returns the typed array's bytes and element count, or throws a TypeError naming `what` and returns 0.
static int read_typed_array(napi_env env, napi_value value, napi_typedarray_type type, const char *what, void **data, size_t *length) {
  napi_typedarray_type actual;
  // Anything but a typed array fails here with napi_invalid_arg, which saves a napi_is_typedarray call.
  if (napi_get_typedarray_info(env, value, &actual, length, data, NULL, NULL) != napi_ok || actual != type) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return 0;
  }
  // A detached or empty buffer may report no data pointer; no bytes then, so nothing is read or written.
  if (*data == NULL) *length = 0;
  return 1;
}

// findBestAvailable(map: Uint8Array, io: Float64Array): number. io[0..2] hold rows, cols and quantity;
// the chosen seat indexes are written to io[3 ..] and their count returned, or -1 when too few are free.
// Numbers in and seats out through one typed array because Bun's N-API charges per value converted and,
// far more, per JS array built from C (profiles/README.md, "Native seat finder", has the costs);
// reserver/native-seat-finder.ts wraps this as a SeatFinder.
static napi_value find_best_available(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return napi_failed(env);
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "seat finder: expected (map: Uint8Array, io: Float64Array)");
    return NULL;
  }
  void *map = NULL;
  void *io_data = NULL;
  size_t len = 0;
  size_t io_len = 0;
  if (!read_typed_array(env, argv[0], napi_uint8_array, "seat finder: map must be a Uint8Array", &map, &len)) return NULL;
  if (!read_typed_array(env, argv[1], napi_float64_array, "seat finder: io must be a Float64Array", &io_data, &io_len)) return NULL;
  if (io_len < 3) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "seat finder: io must hold at least rows, cols and quantity");
    return NULL;
  }
  double *io = io_data;
  uint32_t rows, cols, quantity;
  if (!read_count(env, io[0], "rows", &rows) || !read_count(env, io[1], "cols", &cols) || !read_count(env, io[2], "quantity", &quantity)) return NULL;
  if ((uint64_t)rows * cols > MAX_SEATS) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "seat finder: rows * cols must be at most 2147483647 seats");
    return NULL;
  }

  int32_t count = (int32_t)quantity;
  uint32_t total = rows * cols;
  if (quantity > 0 && (total == 0 || quantity > total)) {
    count = -1;
  } else if (quantity > 0) {
    if (quantity > io_len - 3) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "seat finder: io has no room for quantity seats after rows, cols and quantity");
      return NULL;
    }
    outcome_t outcome = find_seats(map, len, rows, cols, quantity, io + 3);
    if (outcome == OUT_OF_MEMORY) {
      napi_throw_error(env, "ERR_MEMORY", "seat finder: out of memory");
      return NULL;
    }
    if (outcome == NOT_ENOUGH) count = -1;
  }
  if (napi_create_int32(env, count, &result) != napi_ok) return napi_failed(env);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "findBestAvailable", NAPI_AUTO_LENGTH, find_best_available, NULL, &fn) != napi_ok) return napi_failed(env);
  if (napi_set_named_property(env, exports, "findBestAvailable", fn) != napi_ok) return napi_failed(env);
  return exports;
}
