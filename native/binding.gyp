{
  "targets": [
    {
      "target_name": "hearth_native",
      "sources": [
        "src/addon.c",
        "src/spawn.c",
        "src/fdpass.c",
        "src/memory.c",
        "src/markers.c",
        "src/isolation.c",
        "src/affinity.c",
        "sandbox/sandbox.c",
        "src/shared_buffer.cc"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-fno-omit-frame-pointer", "-Wall", "-Wextra", "-Werror"],
      "cflags!": ["-O3", "-fomit-frame-pointer"],
      "cflags_c": ["-std=c11"],
      "cflags_cc": ["-std=c++17", "-Wno-unused-parameter"]
    },
    {
      "target_name": "hearth-seed",
      "type": "executable",
      "sources": ["seed/seed.c", "sandbox/sandbox.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "cflags!": ["-O3"],
      "cflags_c": ["-std=c11"],
      "ldflags": ["-static"]
    }
  ]
}
