package dev.flotilla.worker.engine;

import java.util.Locale;

/**
 * The element type of a context's KV cache ({@code fl_context_params.kv_dtype}). BF16 holds twice
 * the positions of F32 in the same budget; attention reads either in place and computes in F32.
 */
public enum KvDtype {
  /** The default: K and V rounded to nearest even, 2 bytes a value. */
  BF16(2, 2),
  /** 4 bytes a value, the values exactly. The CUDA backend refuses it. */
  F32(0, 4);

  private final int code;
  private final int bytes;

  KvDtype(int code, int bytes) {
    this.code = code;
    this.bytes = bytes;
  }

  int code() {
    return code;
  }

  /** Bytes of one cached value. */
  public int bytes() {
    return bytes;
  }

  /**
   * {@code bf16} or {@code f32}, any case; anything else is an {@link IllegalArgumentException}.
   */
  public static KvDtype parse(String value) {
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "bf16" -> BF16;
      case "f32" -> F32;
      default ->
          throw new IllegalArgumentException(
              "KV cache dtype must be bf16 or f32, got '" + value + "'");
    };
  }
}
