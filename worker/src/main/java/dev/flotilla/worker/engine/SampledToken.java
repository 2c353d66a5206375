package dev.flotilla.worker.engine;

import java.util.List;

/**
 * A sampled token and its log-probability under the unmodified model distribution.
 *
 * @param top the most likely tokens of the same distribution, most likely first, as many as {@link
 *     SamplingParams#topLogprobs()} asked (none when it asked none)
 */
public record SampledToken(int token, float logprob, List<TokenLogprob> top) {
  public SampledToken {
    top = List.copyOf(top);
  }

  public SampledToken(int token, float logprob) {
    this(token, logprob, List.of());
  }
}
