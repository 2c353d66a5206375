package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Element type of the engine's KV cache. */
public enum KvCacheDtype {
  /** Two bytes a value: the same memory holds twice the tokens of {@code f32}. */
  @JsonProperty("bf16")
  BF16,
  /** Four bytes a value, exact; CPU replicas only (the GPU engine keeps BF16). */
  @JsonProperty("f32")
  F32;

  /** The value as the worker's {@code FLOTILLA_KV_CACHE_DTYPE} takes it. */
  public String value() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Bytes of one cached value. */
  public int bytes() {
    return this == BF16 ? 2 : 4;
  }
}
