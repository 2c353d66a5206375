package dev.flotilla.worker.engine;

import java.util.Locale;

/**
 * How the engine stores an adapter's weights ({@code fl_adapter_storage} in flotilla_engine.h). A
 * decode step with a distinct adapter per row reads every row's adapter, so the dtype sets how much
 * LoRA costs there.
 */
public enum AdapterStorage {
  /** The model's compute dtype: F32 weights keep F32 adapters; BF16 and F16 weights keep BF16. */
  AUTO(0),
  /** Always F32: the file's values exactly, twice the memory of BF16. */
  F32(1);

  private final int code;

  AdapterStorage(int code) {
    this.code = code;
  }

  int code() {
    return code;
  }

  /**
   * {@code auto} or {@code f32}, any case; anything else is an {@link IllegalArgumentException}.
   */
  public static AdapterStorage parse(String value) {
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "auto" -> AUTO;
      case "f32" -> F32;
      default ->
          throw new IllegalArgumentException(
              "adapter storage must be auto or f32, got '" + value + "'");
    };
  }
}
