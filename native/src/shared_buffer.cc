// A SharedArrayBuffer over memory the addon owns, which N-API cannot make.
//
// V8 counts the bytes of every (non-shared) ArrayBuffer as external memory a GC could
// reclaim, and an increase of more than half the old-generation limit since the last
// mark-compact forces a full, memory-reducing GC on the spot. A worker whose heap limit
// follows its cgroup (256 MiB) therefore paid 5-8 ms of GC for wrapping 1 GiB of state,
// which is file memory no GC can free. Shared backing stores are not counted per isolate.
#include <node_api.h>
#include <v8.h>

extern "C" napi_value hearth_new_shared_arraybuffer(napi_env env, void *data, size_t length,
                                                    void (*release)(void *data, size_t length, void *hint),
                                                    void *hint) {
  (void)env;
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::SharedArrayBuffer> buffer =
      length == 0 ? v8::SharedArrayBuffer::New(isolate, 0)
                  : v8::SharedArrayBuffer::New(isolate, v8::SharedArrayBuffer::NewBackingStore(data, length, release, hint));
  // An napi_value is a v8::Local's slot in the callback's handle scope (node_api's own conversion).
  return reinterpret_cast<napi_value>(*buffer);
}
