package dev.flotilla.testkit;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * RoPE frequency scaling as transformers' {@code modeling_rope_utils} computes it: none ({@code
 * default}), {@code linear} (every frequency divided by the factor), {@code llama3} (low
 * frequencies divided by the factor, high ones kept, a smooth blend between) or {@code longrope}
 * (Phi-3 128k, Phi-3.5: every frequency divided by its own factor, from the short table while the
 * sequence fits the original context and from the long one beyond it, cos and sin scaled by an
 * attention factor).
 *
 * @param type {@code default}, {@code linear}, {@code llama3} or {@code longrope}
 * @param originalMaxPositionEmbeddings llama3 and longrope: the context the model was trained on
 * @param shortFactor longrope only: one divisor per rotated pair of dimensions (head_dim / 2)
 * @param longFactor longrope only: as shortFactor, for sequences longer than the original context
 */
public record RopeScaling(
    String type,
    double factor,
    double lowFreqFactor,
    double highFreqFactor,
    int originalMaxPositionEmbeddings,
    List<Double> shortFactor,
    List<Double> longFactor) {

  public static final RopeScaling NONE =
      new RopeScaling("default", 1.0, 0, 0, 0, List.of(), List.of());

  public RopeScaling {
    switch (type) {
      case "default" -> {}
      case "linear" -> require(factor >= 1.0, "linear rope factor must be >= 1, got " + factor);
      case "llama3" ->
          require(
              factor >= 1.0
                  && lowFreqFactor > 0
                  && highFreqFactor > lowFreqFactor
                  && originalMaxPositionEmbeddings > 0,
              "llama3 rope scaling needs factor >= 1, 0 < low_freq_factor < high_freq_factor and"
                  + " original_max_position_embeddings > 0");
      case "longrope" ->
          require(
              !shortFactor.isEmpty()
                  && shortFactor.size() == longFactor.size()
                  && originalMaxPositionEmbeddings > 0,
              "longrope rope scaling needs short_factor and long_factor of one length and"
                  + " original_max_position_embeddings > 0");
      default -> throw new IllegalArgumentException("rope_type " + type + " is not supported");
    }
    shortFactor = List.copyOf(shortFactor);
    longFactor = List.copyOf(longFactor);
  }

  public static RopeScaling linear(double factor) {
    return factor == 1.0 ? NONE : new RopeScaling("linear", factor, 0, 0, 0, List.of(), List.of());
  }

  public static RopeScaling llama3(
      double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
    return new RopeScaling(
        "llama3",
        factor,
        lowFreqFactor,
        highFreqFactor,
        originalMaxPositions,
        List.of(),
        List.of());
  }

  /**
   * Phi-3's longrope. The factor transformers derives from it is max_position_embeddings over
   * {@code originalMaxPositions}, so it lives in the model config, not here.
   */
  public static RopeScaling longrope(
      List<Double> shortFactor, List<Double> longFactor, int originalMaxPositions) {
    return new RopeScaling("longrope", 1.0, 0, 0, originalMaxPositions, shortFactor, longFactor);
  }

  public boolean isNone() {
    return type.equals("default");
  }

  /**
   * theta^(-2i/headDim) for i in [0, headDim/2), with this scaling applied to a forward pass over
   * {@code sequenceLength} positions (longrope takes its long table when that exceeds the original
   * context, as transformers' dynamic longrope update does).
   */
  public double[] inverseFrequencies(double theta, int headDim, int sequenceLength) {
    if (type.equals("longrope")) {
      require(
          shortFactor.size() == headDim / 2,
          "longrope needs head_dim / 2 = " + headDim / 2 + " factors, has " + shortFactor.size());
    }
    List<Double> divisors =
        sequenceLength > originalMaxPositionEmbeddings ? longFactor : shortFactor;
    double[] inv = new double[headDim / 2];
    for (int i = 0; i < inv.length; i++) {
      double f = Math.pow(theta, -2.0 * i / headDim);
      inv[i] =
          switch (type) {
            case "linear" -> f / factor;
            case "llama3" -> llama3(f);
            case "longrope" -> f / divisors.get(i);
            default -> f;
          };
    }
    return inv;
  }

  /**
   * What cos and sin are multiplied by: for longrope, transformers' sqrt(1 + ln(s) / ln(original))
   * with s = maxPositionEmbeddings / original, or 1 when s ≤ 1; 1 for every other type.
   */
  public double attentionFactor(int maxPositionEmbeddings) {
    if (!type.equals("longrope")) {
      return 1.0;
    }
    double scale = (double) maxPositionEmbeddings / originalMaxPositionEmbeddings;
    return scale <= 1.0
        ? 1.0
        : Math.sqrt(1 + Math.log(scale) / Math.log(originalMaxPositionEmbeddings));
  }

  /** transformers' {@code _compute_llama3_parameters} for one frequency. */
  private double llama3(double f) {
    double wavelength = 2 * Math.PI / f;
    double lowFreqWavelength = originalMaxPositionEmbeddings / lowFreqFactor;
    double highFreqWavelength = originalMaxPositionEmbeddings / highFreqFactor;
    if (wavelength < highFreqWavelength) {
      return f;
    }
    if (wavelength > lowFreqWavelength) {
      return f / factor;
    }
    double smooth =
        (originalMaxPositionEmbeddings / wavelength - lowFreqFactor)
            / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * f / factor + smooth * f;
  }

  /** The scaling's keys as config.json holds them (no rope_theta). */
  Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("rope_type", type);
    switch (type) {
      case "linear" -> json.put("factor", factor);
      case "llama3" -> {
        json.put("factor", factor);
        json.put("low_freq_factor", lowFreqFactor);
        json.put("high_freq_factor", highFreqFactor);
        json.put("original_max_position_embeddings", originalMaxPositionEmbeddings);
      }
      case "longrope" -> {
        json.put("short_factor", shortFactor);
        json.put("long_factor", longFactor);
      }
      default -> {}
    }
    return json;
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }
}
