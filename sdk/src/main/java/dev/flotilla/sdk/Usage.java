package dev.flotilla.sdk;

/**
 * Tokens a request consumed, as the gateway meters them.
 *
 * @param promptTokens tokens in the prompt
 * @param completionTokens tokens generated
 * @param totalTokens the sum of both
 */
public record Usage(int promptTokens, int completionTokens, int totalTokens) {}
