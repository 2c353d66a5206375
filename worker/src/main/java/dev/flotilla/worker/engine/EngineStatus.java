package dev.flotilla.worker.engine;

/** The engine's {@code fl_status} codes, one exception type each. */
public enum EngineStatus {
  IO,
  FORMAT,
  UNSUPPORTED,
  SHAPE_MISMATCH,
  INVALID_ARGUMENT,
  KV_CACHE_FULL,
  OUT_OF_MEMORY,
  INTERNAL,
  DEVICE_UNAVAILABLE
}
