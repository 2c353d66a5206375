package dev.flotilla.worker.engine;

/**
 * How to pick a token from logits, mirroring {@code fl_sampling_params}. Checked here as the engine
 * checks it, so a bad value fails where it is made and never reaches an engine step.
 *
 * @param temperature 0 = greedy; finite and >= 0
 * @param topK keep the k most likely tokens; 0 = all
 * @param topP keep the smallest set with mass >= topP; 1 = all; in (0, 1]
 * @param seed with the generation step, the only source of randomness
 */
public record SamplingParams(float temperature, int topK, float topP, long seed) {

  /**
   * @throws IllegalArgumentException when a value is outside its range (NaN and infinities
   *     included)
   */
  public SamplingParams {
    if (!Float.isFinite(temperature) || temperature < 0) {
      throw new IllegalArgumentException(
          "temperature must be a finite number >= 0, got " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }
  }

  public static SamplingParams greedy() {
    return new SamplingParams(0f, 0, 1f, 0L);
  }
}
