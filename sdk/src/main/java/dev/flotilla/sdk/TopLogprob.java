package dev.flotilla.sdk;

/**
 * One of the most likely tokens at a generated position, under the model's unmodified distribution.
 *
 * @param tokenId the token's id
 * @param token the token decoded alone
 * @param logprob its log-probability
 */
public record TopLogprob(int tokenId, String token, float logprob) {}
