package dev.flotilla.worker.engine;

/** A token and its log-probability under the unmodified model distribution. */
public record TokenLogprob(int token, float logprob) {}
