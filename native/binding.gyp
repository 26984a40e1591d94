{
  # node-gyp rebuild -C native            the addon the reserver loads (build/Release/seat_finder.node)
  # node-gyp rebuild -C DIR -- -Dsanitize=1   the same under AddressSanitizer and UBSan, for native/memory-check.sh
  "variables": { "sanitize%": 0 },
  "targets": [
    {
      "target_name": "seat_finder",
      "sources": ["seat_finder.c"],
      # -O3 with no -march: the binary runs on any x86-64; the bit builtins need no newer instructions to be correct.
      "cflags_c": ["-std=c11", "-O3", "-Wall", "-Wextra", "-Wconversion", "-Wno-sign-conversion", "-Wno-unused-parameter"],
      "conditions": [
        ["sanitize==1", {
          "cflags_c": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined", "-O1", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
