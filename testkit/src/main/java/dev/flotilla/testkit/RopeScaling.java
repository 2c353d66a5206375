package dev.flotilla.testkit;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * RoPE frequency scaling as transformers' {@code modeling_rope_utils} computes it: none ({@code
 * default}), {@code linear} (every frequency divided by the factor) or {@code llama3} (low
 * frequencies divided by the factor, high ones kept, a smooth blend between).
 *
 * @param type {@code default}, {@code linear} or {@code llama3}
 * @param originalMaxPositionEmbeddings llama3 only: the context the model was trained on
 */
public record RopeScaling(
    String type,
    double factor,
    double lowFreqFactor,
    double highFreqFactor,
    int originalMaxPositionEmbeddings) {

  public static final RopeScaling NONE = new RopeScaling("default", 1.0, 0, 0, 0);

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
      default -> throw new IllegalArgumentException("rope_type " + type + " is not supported");
    }
  }

  public static RopeScaling linear(double factor) {
    return factor == 1.0 ? NONE : new RopeScaling("linear", factor, 0, 0, 0);
  }

  public static RopeScaling llama3(
      double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
    return new RopeScaling("llama3", factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
  }

  public boolean isNone() {
    return type.equals("default");
  }

  /** theta^(-2i/headDim) for i in [0, headDim/2), with this scaling applied. */
  public double[] inverseFrequencies(double theta, int headDim) {
    double[] inv = new double[headDim / 2];
    for (int i = 0; i < inv.length; i++) {
      double f = Math.pow(theta, -2.0 * i / headDim);
      inv[i] =
          switch (type) {
            case "linear" -> f / factor;
            case "llama3" -> llama3(f);
            default -> f;
          };
    }
    return inv;
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
