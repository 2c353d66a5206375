package dev.flotilla.gateway.usage;

/**
 * One finished or failed request, as billed. Serialized as JSON to topic {@code flotilla.usage}
 * with the tenant as the record key.
 *
 * <p>Delivery is at-least-once: an event is re-sent when the gateway cannot tell whether Kafka
 * stored it (a delivery timeout, a crash between Kafka's acknowledgement and the spool commit).
 * Consumers must deduplicate by {@code eventId}, which the gateway assigns once per request and no
 * client chooses. {@code requestId} is the client's label and may repeat. Events of one tenant
 * arrive in the order the gateway recorded them, except that an event re-sent after a delivery
 * failure may follow a later one.
 *
 * <p>Strings a client chooses ({@code requestId}, and {@code adapter} of a request refused before
 * it named a known adapter) are cut to {@link #MAX_CLIENT_CHARS} characters here, so no client can
 * make an event larger than Kafka accepts; every other field comes from the gateway's own state.
 *
 * @param schemaVersion {@link #SCHEMA_VERSION}; raised when a field changes meaning or is removed
 * @param eventId gateway-assigned UUIDv7, unique per request: the deduplication key
 * @param requestId the client's {@code request_id} / {@code X-Request-Id}, else a gateway UUID; a
 *     label, not unique
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
    int schemaVersion,
    String eventId,
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
    String gateway) {

  /** Version 2 added {@code schemaVersion} and {@code eventId}. */
  public static final int SCHEMA_VERSION = 2;

  /** Longest client-chosen string an event carries, in characters (UTF-16 code units). */
  public static final int MAX_CLIENT_CHARS = 256;

  public UsageEvent {
    requestId = bounded(requestId);
    adapter = bounded(adapter);
  }

  /** A new event with a fresh {@link EventIds gateway-assigned id}. */
  public static UsageEvent of(
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
      String gateway) {
    return new UsageEvent(
        SCHEMA_VERSION,
        EventIds.next(timestampMs),
        requestId,
        tenant,
        model,
        adapter,
        promptTokens,
        completionTokens,
        queueMs,
        timeToFirstTokenMs,
        totalMs,
        status,
        finishReason,
        timestampMs,
        gateway);
  }

  /** The first {@link #MAX_CLIENT_CHARS} characters, never ending in half a surrogate pair. */
  static String bounded(String s) {
    if (s == null || s.length() <= MAX_CLIENT_CHARS) {
      return s;
    }
    int end = MAX_CLIENT_CHARS;
    if (Character.isHighSurrogate(s.charAt(end - 1))) {
      end--;
    }
    return s.substring(0, end);
  }
}
