package dev.flotilla.worker.engine;

/**
 * How to pick a token from logits, mirroring {@code fl_sampling_params}.
 *
 * @param temperature 0 = greedy
 * @param topK keep the k most likely tokens; 0 = all
 * @param topP keep the smallest set with mass >= topP; 1 = all
 * @param seed with the generation step, the only source of randomness
 */
public record SamplingParams(float temperature, int topK, float topP, long seed) {

  public static SamplingParams greedy() {
    return new SamplingParams(0f, 0, 1f, 0L);
  }
}
