package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flotilla.gateway.openai.OpenAiRequests.Endpoint;
import dev.flotilla.gateway.status.GatewayStatus;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * The top-level parameters each OpenAI endpoint reads, so that none is silently ignored: a
 * parameter the gateway does not know would change the answer the client expects (a sampling field
 * of another server, say), so it is refused by name, as are known ones whose non-neutral values are
 * not served. Parameters that change nothing about the answer are accepted: {@code user} and {@code
 * metadata} (caller's labels), {@code store} false, {@code service_tier} {@code auto} or {@code
 * default}, {@code modalities} {@code ["text"]}, and in {@code stream_options} {@code
 * include_obfuscation} (no padding is sent either way).
 */
final class OpenAiParameters {
  private static final Set<String> COMMON =
      Set.of(
          "model",
          "stream",
          "stream_options",
          "max_tokens",
          "temperature",
          "top_p",
          "top_k",
          "seed",
          "stop",
          "presence_penalty",
          "frequency_penalty",
          "repetition_penalty",
          "logit_bias",
          "min_tokens",
          "stop_token_ids",
          "n",
          "logprobs",
          "response_format",
          "user",
          "metadata",
          "store",
          "service_tier");
  private static final Map<Endpoint, Set<String>> OWN =
      Map.of(
          Endpoint.COMPLETIONS,
          Set.of("prompt", "echo", "suffix", "best_of"),
          Endpoint.CHAT,
          Set.of(
              "messages",
              "tools",
              "tool_choice",
              "parallel_tool_calls",
              "documents",
              "add_generation_prompt",
              "max_completion_tokens",
              "top_logprobs",
              "modalities",
              "functions",
              "function_call"));
  private static final Set<String> STREAM_OPTIONS = Set.of("include_usage", "include_obfuscation");

  private OpenAiParameters() {}

  /** Refuses, by name, a parameter the endpoint does not read or a value it does not serve. */
  static void check(Endpoint endpoint, JsonNode body) {
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String field = it.next();
      if (!COMMON.contains(field) && !OWN.get(endpoint).contains(field)) {
        throw GatewayStatus.invalidArgument(
            field,
            "is not a parameter of "
                + (endpoint == Endpoint.CHAT ? "/v1/chat/completions" : "/v1/completions")
                + " that this server supports");
      }
    }
    JsonNode streamOptions = body.path("stream_options");
    if (streamOptions.isObject()) {
      for (Iterator<String> it = streamOptions.fieldNames(); it.hasNext(); ) {
        String option = it.next();
        if (!STREAM_OPTIONS.contains(option)) {
          throw GatewayStatus.invalidArgument(
              "stream_options." + option, "is not supported (supported: include_usage)");
        }
      }
    } else if (!isNull(streamOptions)) {
      throw GatewayStatus.invalidArgument("stream_options", "must be an object");
    }
    JsonNode user = body.path("user");
    if (!isNull(user) && !user.isTextual()) {
      throw GatewayStatus.invalidArgument("user", "must be a string");
    }
    JsonNode metadata = body.path("metadata");
    if (!isNull(metadata) && !metadata.isObject()) {
      throw GatewayStatus.invalidArgument("metadata", "must be an object");
    }
    if (body.path("store").asBoolean(false)) {
      throw GatewayStatus.invalidArgument("store", "stored completions are not supported");
    }
    JsonNode tier = body.path("service_tier");
    if (!isNull(tier) && !Set.of("auto", "default").contains(tier.asText())) {
      throw GatewayStatus.invalidArgument(
          "service_tier", "only auto and default are served; got " + tier);
    }
    JsonNode modalities = body.path("modalities");
    if (!isNull(modalities)
        && !(modalities.isArray()
            && modalities.size() == 1
            && modalities.get(0).asText().equals("text"))) {
      throw GatewayStatus.invalidArgument("modalities", "only [\"text\"] is served");
    }
    if (!isNull(body.path("function_call"))) {
      throw GatewayStatus.invalidArgument(
          "function_call", "is not supported; use tools and tool_choice");
    }
  }

  private static boolean isNull(JsonNode v) {
    return v == null || v.isMissingNode() || v.isNull();
  }
}
