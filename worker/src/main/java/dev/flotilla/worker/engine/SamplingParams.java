package dev.flotilla.worker.engine;

/**
 * How to pick a token from logits, mirroring {@code fl_sampling_params}. Checked here as the engine
 * checks it, so a bad value fails where it is made and never reaches an engine step. Token ids (of
 * the logit bias) are checked against the vocabulary by the engine and by the request validator.
 *
 * @param temperature 0 = greedy; finite and >= 0
 * @param topK keep the k most likely tokens; 0 = all
 * @param topP keep the smallest set with mass >= topP; 1 = all; in (0, 1]
 * @param seed with the generation step, the only source of randomness
 * @param presencePenalty in [-2, 2]: subtracted once from each token generated so far
 * @param frequencyPenalty in [-2, 2]: subtracted per time a token was generated
 * @param repetitionPenalty > 0, 1 = off: a token of the prompt or the output has its logit divided
 *     by it when positive, multiplied when not
 * @param logitBias added to the named tokens' logits; -100 bans a token
 * @param minTokens the end tokens (end-of-sequence and stop token ids) cannot be drawn before this
 *     many tokens were generated
 * @param topLogprobs how many of the most likely tokens to report with each sampled one, 0 to
 *     {@link #MAX_TOP_LOGPROBS}
 */
public record SamplingParams(
    float temperature,
    int topK,
    float topP,
    long seed,
    float presencePenalty,
    float frequencyPenalty,
    float repetitionPenalty,
    LogitBias logitBias,
    int minTokens,
    int topLogprobs) {
  /** The most alternatives a sampled token reports, as OpenAI's {@code top_logprobs}. */
  public static final int MAX_TOP_LOGPROBS = 20;

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
    if (!(presencePenalty >= -2 && presencePenalty <= 2)) {
      throw new IllegalArgumentException(
          "presence_penalty must be in [-2, 2], got " + presencePenalty);
    }
    if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) {
      throw new IllegalArgumentException(
          "frequency_penalty must be in [-2, 2], got " + frequencyPenalty);
    }
    if (!(Float.isFinite(repetitionPenalty) && repetitionPenalty > 0)) {
      throw new IllegalArgumentException(
          "repetition_penalty must be a finite number > 0, got " + repetitionPenalty);
    }
    if (logitBias == null) {
      logitBias = LogitBias.NONE;
    }
    if (minTokens < 0) {
      throw new IllegalArgumentException("min_tokens must be >= 0, got " + minTokens);
    }
    if (topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) {
      throw new IllegalArgumentException(
          "top_logprobs must be in [0, " + MAX_TOP_LOGPROBS + "], got " + topLogprobs);
    }
  }

  /** Temperature, top-k, top-p and seed; no penalties, bias, minimum or alternatives. */
  public SamplingParams(float temperature, int topK, float topP, long seed) {
    this(temperature, topK, topP, seed, 0f, 0f, 1f, LogitBias.NONE, 0, 0);
  }

  public static SamplingParams greedy() {
    return new SamplingParams(0f, 0, 1f, 0L);
  }

  /** Whether sampling reads the sequence's tokens (a penalty is set). */
  public boolean penalizes() {
    return presencePenalty != 0 || frequencyPenalty != 0 || repetitionPenalty != 1;
  }
}
