package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.gateway.chat.ChatInputs;
import dev.flotilla.gateway.status.GatewayStatus;

/**
 * OpenAI request bodies → {@link GenerateRequest}. Every refusal is INVALID_ARGUMENT naming the
 * OpenAI parameter, so it reaches the client as a 400 with {@code param} set.
 *
 * <p>Mapped: {@code model} ({@code base} or {@code base:adapter}, base may be {@code
 * namespace/name}), {@code prompt} (a string, one string in a list, a list of token ids, or one
 * such list in a list), {@code messages}, {@code tools}, {@code tool_choice}, {@code
 * parallel_tool_calls} and {@code response_format} ({@link OutputFormats}), {@code documents} and
 * {@code add_generation_prompt} (for the model's chat template: {@link ChatInputs}), {@code
 * max_tokens} / {@code max_completion_tokens} (chat; both given must agree), {@code temperature}
 * (OpenAI's default 1 when absent), {@code top_p}, {@code top_k} (a vLLM extension), {@code seed},
 * {@code stop}, {@code presence_penalty}, {@code frequency_penalty}, {@code logit_bias} (token id
 * strings to values in [-100, 100]), {@code n} (1..16; 1 with tools or response_format; each choice
 * has its own log-probabilities), {@code logprobs} (chat: a boolean, with {@code top_logprobs} 0 to
 * 20 alternatives; completions: the number of alternatives, 0 to 20), {@code stream}, {@code
 * stream_options.include_usage}, and vLLM's {@code repetition_penalty}, {@code min_tokens} and
 * {@code stop_token_ids}. Accepted as changing nothing, and every other parameter refused by name:
 * {@link OpenAiParameters}. Refused when set to anything but their neutral value, rather than
 * silently ignored: {@code echo}, {@code suffix}, {@code best_of}, {@code functions}.
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

  /** The most alternatives per token, as OpenAI's chat {@code top_logprobs}. */
  static final int MAX_TOP_LOGPROBS = 20;

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
    OpenAiParameters.check(endpoint, body);
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
    Integer maxTokens = positiveInt(body, "max_tokens");
    if (endpoint == Endpoint.CHAT) {
      Integer maxCompletion = positiveInt(body, "max_completion_tokens");
      if (maxTokens != null && maxCompletion != null && !maxTokens.equals(maxCompletion)) {
        throw GatewayStatus.invalidArgument(
            "max_completion_tokens",
            "is "
                + maxCompletion
                + " but max_tokens is "
                + maxTokens
                + "; give one, or both with the same value");
      }
      maxTokens = maxCompletion != null ? maxCompletion : maxTokens;
    } else if (!isNull(body.path("max_completion_tokens"))) {
      throw GatewayStatus.invalidArgument(
          "max_completion_tokens", "is a chat completions parameter; use max_tokens");
    }
    if (maxTokens != null) {
      s.setMaxTokens(maxTokens);
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
    penalties(body, s);
    logitBias(body, s);
    JsonNode minTokens = body.path("min_tokens");
    if (!isNull(minTokens)) {
      if (!minTokens.isIntegralNumber() || !minTokens.canConvertToInt() || minTokens.asInt() < 0) {
        throw GatewayStatus.invalidArgument("min_tokens", "must be an integer >= 0");
      }
      if (maxTokens != null && minTokens.asInt() > maxTokens) {
        throw GatewayStatus.invalidArgument(
            "min_tokens", "must not exceed max_tokens (" + maxTokens + ")");
      }
      s.setMinTokens(minTokens.asInt());
    }
    JsonNode stopIds = body.path("stop_token_ids");
    if (!isNull(stopIds)) {
      if (!stopIds.isArray()) {
        throw GatewayStatus.invalidArgument("stop_token_ids", "must be a list of token ids");
      }
      for (JsonNode id : stopIds) {
        if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
          throw GatewayStatus.invalidArgument("stop_token_ids", "token ids are integers >= 0");
        }
        s.addStopTokenIds(id.asInt());
      }
    }
    s.setTopLogprobs(topLogprobs(endpoint, body));
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
      return true; // the number of alternatives, checked by topLogprobs
    }
    if (!lp.isBoolean()) {
      throw GatewayStatus.invalidArgument("logprobs", "must be a boolean");
    }
    return lp.asBoolean();
  }

  /** The alternatives per token: completions' {@code logprobs}, chat's {@code top_logprobs}. */
  private static int topLogprobs(Endpoint endpoint, JsonNode body) {
    String field = endpoint == Endpoint.COMPLETIONS ? "logprobs" : "top_logprobs";
    JsonNode top = body.path(field);
    if (isNull(top)) {
      return 0;
    }
    if (!top.isIntegralNumber() || top.asInt() < 0 || top.asInt() > MAX_TOP_LOGPROBS) {
      throw GatewayStatus.invalidArgument(
          field, "must be an integer in [0, " + MAX_TOP_LOGPROBS + "]");
    }
    if (endpoint == Endpoint.CHAT && top.asInt() > 0 && !body.path("logprobs").asBoolean(false)) {
      throw GatewayStatus.invalidArgument("top_logprobs", "needs logprobs: true");
    }
    return top.asInt();
  }

  private static void penalties(JsonNode body, SamplingParams.Builder s) {
    double presence = number(body, "presence_penalty", 0);
    if (!(presence >= -2 && presence <= 2)) {
      throw GatewayStatus.invalidArgument("presence_penalty", "must be in [-2, 2]");
    }
    double frequency = number(body, "frequency_penalty", 0);
    if (!(frequency >= -2 && frequency <= 2)) {
      throw GatewayStatus.invalidArgument("frequency_penalty", "must be in [-2, 2]");
    }
    double repetition = number(body, "repetition_penalty", 1);
    if (!(repetition > 0 && Double.isFinite(repetition))) {
      throw GatewayStatus.invalidArgument("repetition_penalty", "must be a number > 0");
    }
    s.setPresencePenalty((float) presence)
        .setFrequencyPenalty((float) frequency)
        .setRepetitionPenalty((float) repetition);
  }

  /** OpenAI's {@code logit_bias}: an object from token ids (as strings) to values. */
  private static void logitBias(JsonNode body, SamplingParams.Builder s) {
    JsonNode bias = body.path("logit_bias");
    if (isNull(bias)) {
      return;
    }
    if (!bias.isObject()) {
      throw GatewayStatus.invalidArgument(
          "logit_bias", "must be an object from token ids to numbers");
    }
    for (var e : bias.properties()) {
      int token;
      try {
        token = Integer.parseInt(e.getKey());
      } catch (NumberFormatException ex) {
        throw GatewayStatus.invalidArgument(
            "logit_bias", "keys are token ids, got '" + e.getKey() + "'");
      }
      JsonNode v = e.getValue();
      if (token < 0 || !v.isNumber() || !(v.asDouble() >= -100 && v.asDouble() <= 100)) {
        throw GatewayStatus.invalidArgument(
            "logit_bias", "maps token ids >= 0 to numbers in [-100, 100]; got " + e);
      }
      s.putLogitBias(token, (float) v.asDouble());
    }
  }

  private static Integer positiveInt(JsonNode body, String field) {
    JsonNode v = body.path(field);
    if (isNull(v)) {
      return null;
    }
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 1) {
      throw GatewayStatus.invalidArgument(field, "must be an integer >= 1");
    }
    return v.asInt();
  }

  private static void refuseUnsupported(JsonNode body) {
    if (body.path("echo").asBoolean(false)) {
      throw GatewayStatus.invalidArgument("echo", "is not supported");
    }
    if (!body.path("suffix").asText("").isEmpty()) {
      throw GatewayStatus.invalidArgument("suffix", "is not supported");
    }
    JsonNode bestOf = body.path("best_of");
    if (!isNull(bestOf) && !(bestOf.isNumber() && bestOf.asDouble() == 1.0)) {
      throw GatewayStatus.invalidArgument("best_of", "only 1.0 is supported");
    }
    JsonNode functions = body.path("functions");
    if (!isNull(functions) && !functions.isEmpty()) {
      throw GatewayStatus.invalidArgument("functions", "is not supported");
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
