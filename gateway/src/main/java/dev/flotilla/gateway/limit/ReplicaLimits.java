package dev.flotilla.gateway.limit;

/**
 * The limits one replica enforces for one tenant ({@link ReplicaShare#of}); null where the tenant
 * has no such limit.
 *
 * @param requestsPerSecond the sustained rate
 * @param burst the size of the request bucket; set whenever {@code requestsPerSecond} is
 * @param tokensPerMinute the size of the token bucket, refilled over a minute
 * @param maxConcurrent requests in flight at once
 */
public record ReplicaLimits(
    Double requestsPerSecond, Double burst, Double tokensPerMinute, Integer maxConcurrent) {}
