package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.engine.SamplingParams;

/**
 * The seed of each of a request's n choices: a function of the request's seed and the choice index
 * only, so one request gives the same n choices however it is batched, and choice 0 samples exactly
 * as a request for one choice does.
 */
public final class ChoiceSeeds {
  private ChoiceSeeds() {}

  /** Choice {@code index}'s seed: the request's for 0, else a SplitMix64 mix of both. */
  public static long seed(long requestSeed, int index) {
    if (index == 0) {
      return requestSeed;
    }
    long z = requestSeed + 0x9E3779B97F4A7C15L * index;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** The request as choice {@code index} samples it: only the seed differs from choice 0's. */
  static SequenceRequest forChoice(SequenceRequest r, int index) {
    SamplingParams s = r.sampling();
    return new SequenceRequest(
        r.requestId(),
        r.adapter(),
        r.prompt(),
        new SamplingParams(
            s.temperature(),
            s.topK(),
            s.topP(),
            seed(s.seed(), index),
            s.presencePenalty(),
            s.frequencyPenalty(),
            s.repetitionPenalty(),
            s.logitBias(),
            s.minTokens(),
            s.topLogprobs()),
        r.maxTokens(),
        r.limitedByContext(),
        r.priority(),
        r.virtualTokenCounter(),
        r.stopTokenIds(),
        r.pooling());
  }
}
