package dev.flotilla.testkit;

import java.util.Arrays;

/**
 * Element types a generated model or adapter can be stored in, with their safetensors and torch
 * names.
 */
public enum Dtype {
  F32("F32", "float32", 4),
  F16("F16", "float16", 2),
  BF16("BF16", "bfloat16", 2),
  /** Not served by the engine; used for merged reference weights so a merge loses no precision. */
  F64("F64", "float64", 8);

  private final String safetensorsName;
  private final String torchName;
  private final int bytes;

  Dtype(String safetensorsName, String torchName, int bytes) {
    this.safetensorsName = safetensorsName;
    this.torchName = torchName;
    this.bytes = bytes;
  }

  /** The {@code dtype} string in a safetensors header, e.g. {@code BF16}. */
  public String safetensorsName() {
    return safetensorsName;
  }

  /** The {@code torch_dtype} string in config.json, e.g. {@code bfloat16}. */
  public String torchName() {
    return torchName;
  }

  public int bytes() {
    return bytes;
  }

  public static Dtype fromSafetensorsName(String name) {
    return Arrays.stream(values())
        .filter(d -> d.safetensorsName.equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unsupported safetensors dtype: " + name));
  }

  public static Dtype fromTorchName(String name) {
    return Arrays.stream(values())
        .filter(d -> d.torchName.equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unsupported torch_dtype: " + name));
  }
}
