package dev.flotilla.worker.engine;

/** A sampled token and its log-probability under the unmodified model distribution. */
public record SampledToken(int token, float logprob) {}
