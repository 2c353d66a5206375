package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.gateway.chat.ChatInputs;
import dev.flotilla.gateway.status.GatewayStatus;
import java.util.List;
import java.util.Map;

/**
 * OpenAI request bodies → {@link GenerateRequest}. Every refusal is INVALID_ARGUMENT naming the
 * OpenAI parameter, so it reaches the client as a 400 with {@code param} set.
 *
 * <p>Mapped: {@code model} ({@code base} or {@code base:adapter}, base may be {@code
 * namespace/name}), {@code prompt} (a string, one string in a list, a list of token ids, or one
 * such list in a list), {@code messages}, {@code tools}, {@code tool_choice} and {@code
 * response_format} ({@link OutputFormats}), {@code documents} and {@code add_generation_prompt}
 * (for the model's chat template: {@link ChatInputs}), {@code max_tokens} / {@code
 * max_completion_tokens}, {@code temperature} (OpenAI's default 1 when absent), {@code top_p},
 * {@code top_k} (a vLLM extension), {@code seed}, {@code stop}, {@code n} (1..16; 1 with tools or
 * response_format), {@code logprobs} (the sampled token's log-probability only: completions' top
 * alternatives come back as null, chat's {@code top_logprobs} must be 0), {@code stream}, {@code
 * stream_options.include_usage}. Ignored: {@code user}. Refused when set to anything but their
 * neutral value, rather than silently ignored: {@code echo}, {@code suffix}, {@code best_of},
 * {@code presence_penalty}, {@code frequency_penalty}, {@code logit_bias}, {@code functions}.
 */
public final class OpenAiRequests {
  /** Which endpoint a body came to. */
  public enum Endpoint {
    COMPLETIONS,
    CHAT
  }

  /**
   * What the transport reads before the pipeline runs: it must choose SSE or JSON before the body
   * is validated (validation waits for authentication). A body that is not a JSON object reads as
   * not streaming.
   */
  public record Options(boolean stream, boolean includeUsage, boolean logprobs, String model) {
    public static Options of(JsonNode body) {
      if (body == null || !body.isObject()) {
        return new Options(false, false, false, "");
      }
      boolean stream = body.path("stream").asBoolean(false);
      boolean usage = stream && body.path("stream_options").path("include_usage").asBoolean(false);
      JsonNode lp = body.path("logprobs");
      boolean logprobs = lp.isBoolean() ? lp.asBoolean() : lp.isIntegralNumber();
      return new Options(stream, usage, logprobs, body.path("model").asText(""));
    }
  }

  private OpenAiRequests() {}

  /**
   * The pipeline request for a body.
   *
   * @param requestId the id the HTTP response uses; usage events carry it
   */
  public static GenerateRequest toGenerateRequest(
      Endpoint endpoint, JsonNode body, String requestId) {
    if (body == null || !body.isObject()) {
      throw GatewayStatus.invalidArgument("body", "must be a JSON object");
    }
    GenerateRequest.Builder r = GenerateRequest.newBuilder().setRequestId(requestId);
    String model = requiredText(body, "model");
    int colon = model.indexOf(':');
    String base = colon < 0 ? model : model.substring(0, colon);
    if (base.isEmpty() || (colon >= 0 && colon == model.length() - 1)) {
      throw GatewayStatus.invalidArgument("model", "use base or base:adapter");
    }
    r.setModel(base).setAdapter(colon < 0 ? "" : model.substring(colon + 1));
    refuseUnsupported(body);
    if (endpoint == Endpoint.COMPLETIONS) {
      prompt(body, r);
    } else {
      r.setChat(ChatInputs.of(body));
      r.setToolChoice(OutputFormats.toolChoice(body));
    }
    r.setResponseFormat(OutputFormats.responseFormat(body));
    r.setSampling(sampling(endpoint, body));
    r.setLogprobs(logprobs(endpoint, body));
    JsonNode streamOptions = body.path("stream_options");
    if (!isNull(streamOptions) && !body.path("stream").asBoolean(false)) {
      throw GatewayStatus.invalidArgument("stream_options", "only allowed with stream: true");
    }
    if (!isNull(body.path("stream")) && !body.path("stream").isBoolean()) {
      throw GatewayStatus.invalidArgument("stream", "must be a boolean");
    }
    return r.build();
  }

  private static void prompt(JsonNode body, GenerateRequest.Builder r) {
    JsonNode p = body.path("prompt");
    if (p.isTextual()) {
      r.setPrompt(p.asText());
      return;
    }
    if (p.isArray() && p.size() == 1 && (p.get(0).isTextual() || p.get(0).isArray())) {
      p = p.get(0);
      if (p.isTextual()) {
        r.setPrompt(p.asText());
        return;
      }
    }
    if (p.isArray() && p.size() > 0) {
      TokenIds.Builder ids = TokenIds.newBuilder();
      for (JsonNode id : p) {
        if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
          throw GatewayStatus.invalidArgument(
              "prompt",
              "give one prompt: a string or a list of"
                  + " token ids (several prompts in one request are not supported; send n requests)");
        }
        ids.addIds(id.asInt());
      }
      r.setPromptTokenIds(ids);
      return;
    }
    throw GatewayStatus.invalidArgument("prompt", "must be a non-empty string or token id list");
  }

  private static SamplingParams sampling(Endpoint endpoint, JsonNode body) {
    SamplingParams.Builder s = SamplingParams.newBuilder();
    JsonNode max =
        endpoint == Endpoint.CHAT && !isNull(body.path("max_completion_tokens"))
            ? body.path("max_completion_tokens")
            : body.path("max_tokens");
    String maxName =
        endpoint == Endpoint.CHAT && !isNull(body.path("max_completion_tokens"))
            ? "max_completion_tokens"
            : "max_tokens";
    if (!isNull(max)) {
      if (!max.isIntegralNumber() || !max.canConvertToInt() || max.asInt() < 1) {
        throw GatewayStatus.invalidArgument(maxName, "must be an integer >= 1");
      }
      s.setMaxTokens(max.asInt());
    }
    double temperature = number(body, "temperature", 1.0);
    if (!(temperature >= 0 && temperature <= 2)) {
      throw GatewayStatus.invalidArgument("temperature", "must be in [0, 2]");
    }
    s.setTemperature((float) temperature);
    double topP = number(body, "top_p", 1.0);
    if (!(topP > 0 && topP <= 1)) {
      throw GatewayStatus.invalidArgument("top_p", "must be in (0, 1]");
    }
    s.setTopP((float) topP);
    JsonNode topK = body.path("top_k");
    if (!isNull(topK)) {
      if (!topK.isIntegralNumber() || !topK.canConvertToInt()) {
        throw GatewayStatus.invalidArgument("top_k", "must be an integer");
      }
      // vLLM's -1 and 0 both mean "no top-k".
      s.setTopK(Math.max(0, topK.asInt()));
    }
    JsonNode seed = body.path("seed");
    if (!isNull(seed)) {
      if (!seed.isIntegralNumber() || !seed.canConvertToLong()) {
        throw GatewayStatus.invalidArgument("seed", "must be an integer");
      }
      s.setSeed(seed.asLong());
    }
    JsonNode stop = body.path("stop");
    if (stop.isTextual()) {
      s.addStop(stop.asText());
    } else if (stop.isArray()) {
      for (JsonNode st : stop) {
        if (!st.isTextual() || st.asText().isEmpty()) {
          throw GatewayStatus.invalidArgument("stop", "must be non-empty strings");
        }
        s.addStop(st.asText());
      }
    } else if (!isNull(stop)) {
      throw GatewayStatus.invalidArgument("stop", "must be a string or a list of strings");
    }
    JsonNode n = body.path("n");
    if (!isNull(n)) {
      if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 1 || n.asInt() > 16) {
        throw GatewayStatus.invalidArgument("n", "must be an integer in [1, 16]");
      }
      s.setN(n.asInt());
    }
    return s.build();
  }

  private static boolean logprobs(Endpoint endpoint, JsonNode body) {
    JsonNode lp = body.path("logprobs");
    if (isNull(lp)) {
      return false;
    }
    if (endpoint == Endpoint.COMPLETIONS) {
      if (!lp.isIntegralNumber() || lp.asInt() < 0 || lp.asInt() > 5) {
        throw GatewayStatus.invalidArgument("logprobs", "must be an integer in [0, 5]");
      }
      return true;
    }
    if (!lp.isBoolean()) {
      throw GatewayStatus.invalidArgument("logprobs", "must be a boolean");
    }
    JsonNode top = body.path("top_logprobs");
    if (!isNull(top) && !(top.isIntegralNumber() && top.asInt() == 0)) {
      throw GatewayStatus.invalidArgument(
          "top_logprobs",
          "alternatives are not computed; only the sampled token's logprob is returned");
    }
    return lp.asBoolean();
  }

  private static void refuseUnsupported(JsonNode body) {
    if (body.path("echo").asBoolean(false)) {
      throw GatewayStatus.invalidArgument("echo", "is not supported");
    }
    if (!body.path("suffix").asText("").isEmpty()) {
      throw GatewayStatus.invalidArgument("suffix", "is not supported");
    }
    for (var e :
        Map.of("best_of", 1.0, "presence_penalty", 0.0, "frequency_penalty", 0.0).entrySet()) {
      JsonNode v = body.path(e.getKey());
      if (!isNull(v) && !(v.isNumber() && v.asDouble() == e.getValue())) {
        throw GatewayStatus.invalidArgument(e.getKey(), "only " + e.getValue() + " is supported");
      }
    }
    for (String field : List.of("logit_bias", "functions")) {
      JsonNode v = body.path(field);
      if (!isNull(v) && !v.isEmpty()) {
        throw GatewayStatus.invalidArgument(field, "is not supported");
      }
    }
  }

  private static String requiredText(JsonNode body, String field) {
    JsonNode v = body.path(field);
    if (!v.isTextual() || v.asText().isBlank()) {
      throw GatewayStatus.invalidArgument(field, "must be a non-empty string");
    }
    return v.asText();
  }

  private static double number(JsonNode body, String field, double absent) {
    JsonNode v = body.path(field);
    if (isNull(v)) {
      return absent;
    }
    if (!v.isNumber()) {
      throw GatewayStatus.invalidArgument(field, "must be a number");
    }
    return v.asDouble();
  }

  private static boolean isNull(JsonNode v) {
    return v == null || v.isMissingNode() || v.isNull();
  }
}
