package dev.flotilla.gateway.usage;

/**
 * One finished or failed request, as billed. Serialized as JSON to topic {@code flotilla.usage}
 * with the tenant as the record key.
 *
 * <p>Delivery is at-least-once: an event is re-sent when the gateway cannot tell whether Kafka
 * stored it (a delivery timeout, a crash between Kafka's acknowledgement and the spool commit).
 * Consumers must deduplicate by {@code requestId}, which is unique per request (client-chosen or a
 * gateway-assigned UUID). Events of one tenant arrive in the order the gateway recorded them,
 * except that an event re-sent after a delivery failure may follow a later one.
 *
 * @param requestId client-chosen or gateway-assigned id; the deduplication key
 * @param tenant Tenant name (also the Kafka record key)
 * @param model ModelDeployment as {@code namespace/name}; empty when the request never resolved one
 * @param adapter LoraAdapter name; empty for the base model
 * @param promptTokens tokens of the prompt the worker processed (0 when no worker ran it)
 * @param completionTokens tokens streamed to the client
 * @param queueMs time held for a cold model and waiting in the fair queue
 * @param timeToFirstTokenMs arrival to first token; -1 when no token was produced
 * @param totalMs arrival to the end of the request
 * @param status gRPC status code name of the outcome: {@code OK}, {@code CANCELLED}, ...
 * @param finishReason why generation stopped, for {@code OK}: {@code STOP}, {@code LENGTH}, ...
 * @param timestampMs epoch milliseconds when the request ended
 * @param gateway id of the gateway replica that served the request
 */
public record UsageEvent(
    String requestId,
    String tenant,
    String model,
    String adapter,
    int promptTokens,
    int completionTokens,
    long queueMs,
    long timeToFirstTokenMs,
    long totalMs,
    String status,
    String finishReason,
    long timestampMs,
    String gateway) {}
