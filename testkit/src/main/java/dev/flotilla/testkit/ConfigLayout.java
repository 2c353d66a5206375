package dev.flotilla.testkit;

/** How config.json spells the RoPE settings and the dtype; both are what users have on disk. */
public enum ConfigLayout {
  /**
   * transformers 4: top-level {@code rope_theta}, {@code rope_scaling} (null without scaling) and
   * {@code torch_dtype}.
   */
  TOP_LEVEL_ROPE,
  /**
   * transformers 5: one {@code rope_parameters} object with {@code rope_type}, {@code rope_theta}
   * and the scaling keys inside, and {@code dtype}.
   */
  ROPE_PARAMETERS
}
