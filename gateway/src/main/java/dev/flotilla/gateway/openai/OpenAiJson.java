package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.AdapterInfo;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.ModelInfo;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.ToolCall;
import dev.flotilla.api.v1.ToolCallDelta;
import dev.flotilla.api.v1.TopLogprobs;
import dev.flotilla.gateway.openai.OpenAiRequests.Endpoint;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * OpenAI's response shapes, built from pipeline messages: completion and chat completion objects,
 * their stream chunks, and the model list. Pure functions of their inputs.
 */
public final class OpenAiJson {
  private final ObjectMapper json;

  public OpenAiJson(ObjectMapper json) {
    this.json = json;
  }

  public ObjectMapper mapper() {
    return json;
  }

  /** The fields every completion object and chunk starts with. */
  public record Head(Endpoint endpoint, String id, long created, String model) {
    public static Head of(Endpoint endpoint, String requestId, long created, String model) {
      return new Head(
          endpoint,
          (endpoint == Endpoint.CHAT ? "chatcmpl-" : "cmpl-") + requestId,
          created,
          model);
    }
  }

  /** The log-probabilities of streamed tokens, accumulated in order. */
  public static final class Logprobs {
    final List<String> tokens = new ArrayList<>();
    final List<Float> values = new ArrayList<>();
    final List<Integer> offsets = new ArrayList<>();
    final List<TopLogprobs> top = new ArrayList<>(); // per token; null where none came
    int textLength;

    /**
     * Adds a chunk. Each token is named by its own text when the worker sent it; else a chunk of
     * one token names it by the chunk's text, and a chunk of several names each {@code
     * token_id:<id>}, as vLLM does.
     */
    public void add(TokenChunk chunk) {
      int n = chunk.getLogprobsCount();
      for (int i = 0; i < n; i++) {
        tokens.add(
            i < chunk.getTokensCount()
                ? chunk.getTokens(i)
                : n == 1
                    ? chunk.getText()
                    : "token_id:" + (i < chunk.getTokenIdsCount() ? chunk.getTokenIds(i) : -1));
        values.add(chunk.getLogprobs(i));
        offsets.add(textLength);
        top.add(i < chunk.getTopLogprobsCount() ? chunk.getTopLogprobs(i) : null);
      }
      textLength += chunk.getText().length();
    }
  }

  /** One choice's text and log-probabilities, accumulated from its chunks. */
  public static final class ChoiceText {
    final StringBuilder text = new StringBuilder();
    final Logprobs logprobs;

    public ChoiceText(boolean logprobs) {
      this.logprobs = logprobs ? new Logprobs() : null;
    }

    public void add(TokenChunk chunk) {
      text.append(chunk.getText());
      if (logprobs != null) {
        logprobs.add(chunk);
      }
    }
  }

  /**
   * The whole answer: {@code choices} by index, each with its finish reason from {@code fin} (its
   * per-choice ends for a request of several choices).
   */
  public ObjectNode completion(Head head, Map<Integer, ChoiceText> choices, Final fin) {
    ObjectNode root = head(head, false);
    ArrayNode list = root.putArray("choices");
    Map<Integer, FinishReason> reasons = new HashMap<>();
    reasons.put(0, fin.getFinishReason());
    fin.getChoicesList().forEach(c -> reasons.put(c.getIndex(), c.getFinishReason()));
    choices.forEach(
        (index, c) -> {
          ObjectNode choice = list.addObject().put("index", index);
          if (head.endpoint() == Endpoint.CHAT) {
            ObjectNode message = choice.putObject("message").put("role", "assistant");
            String text = c.text.toString();
            // Tool calls come only with one choice (GatewayPipeline.validate): they are choice 0's.
            boolean calls = index == 0 && fin.getToolCallsCount() > 0;
            if (calls && text.isBlank()) {
              message.putNull("content");
            } else {
              message.put("content", text);
            }
            if (calls) {
              toolCalls(message, fin);
            }
          } else {
            choice.put("text", c.text.toString());
          }
          logprobs(choice, head.endpoint(), c.logprobs);
          choice.put(
              "finish_reason", finishReason(reasons.getOrDefault(index, fin.getFinishReason())));
        });
    usage(root, fin);
    return root;
  }

  /** A stream chunk with new text; {@code first} adds the chat role. */
  public ObjectNode chunk(
      Head head, TokenChunk tokens, boolean first, boolean logprobs, boolean includeUsage) {
    ObjectNode root = head(head, true);
    ObjectNode choice = root.putArray("choices").addObject().put("index", tokens.getIndex());
    if (head.endpoint() == Endpoint.CHAT) {
      ObjectNode delta = choice.putObject("delta");
      if (first) {
        delta.put("role", "assistant");
      }
      if (tokens.getToolCallsCount() == 0 || !tokens.getText().isEmpty()) {
        delta.put("content", tokens.getText());
      }
      if (tokens.getToolCallsCount() > 0) {
        toolCallDeltas(delta, tokens);
      }
    } else {
      choice.put("text", tokens.getText());
    }
    Logprobs lp = null;
    if (logprobs) {
      lp = new Logprobs();
      lp.add(tokens);
    }
    logprobs(choice, head.endpoint(), lp);
    choice.putNull("finish_reason");
    if (includeUsage) {
      root.putNull("usage");
    }
    return root;
  }

  /**
   * OpenAI's {@code delta.tool_calls}: a call's first delta has its index, id, type and name (and
   * arguments "" unless some came with it), the next ones its index and a piece of its arguments.
   */
  private static void toolCallDeltas(ObjectNode delta, TokenChunk tokens) {
    ArrayNode calls = delta.putArray("tool_calls");
    for (ToolCallDelta d : tokens.getToolCallsList()) {
      ObjectNode c = calls.addObject().put("index", d.getIndex());
      ObjectNode function;
      if (!d.getId().isEmpty()) {
        c.put("id", d.getId()).put("type", "function");
        function = c.putObject("function").put("name", d.getName());
      } else {
        function = c.putObject("function");
      }
      function.put("arguments", d.getArgumentsJson());
    }
  }

  private static void toolCalls(ObjectNode message, Final fin) {
    ArrayNode calls = message.putArray("tool_calls");
    for (int i = 0; i < fin.getToolCallsCount(); i++) {
      ToolCall call = fin.getToolCalls(i);
      ObjectNode c = calls.addObject();
      c.put("id", call.getId()).put("type", "function");
      c.putObject("function").put("name", call.getName()).put("arguments", call.getArgumentsJson());
    }
  }

  /** The chunk that carries choice {@code index}'s finish reason (no new text). */
  public ObjectNode finishChunk(Head head, int index, FinishReason reason, boolean includeUsage) {
    ObjectNode root = head(head, true);
    ObjectNode choice = root.putArray("choices").addObject().put("index", index);
    if (head.endpoint() == Endpoint.CHAT) {
      choice.putObject("delta");
    } else {
      choice.put("text", "");
    }
    choice.putNull("logprobs");
    choice.put("finish_reason", finishReason(reason));
    if (includeUsage) {
      root.putNull("usage");
    }
    return root;
  }

  /** The last chunk when the client asked for usage: no choices, the usage. */
  public ObjectNode usageChunk(Head head, Final fin) {
    ObjectNode root = head(head, true);
    root.putArray("choices");
    usage(root, fin);
    return root;
  }

  /**
   * {@code GET /v1/models}: each base model as {@code namespace/name} and each adapter the caller
   * may use as {@code namespace/name:adapter} with {@code parent} naming its base.
   */
  public ObjectNode models(ListModelsResponse models, long created) {
    ObjectNode root = json.createObjectNode().put("object", "list");
    ArrayNode data = root.putArray("data");
    for (ModelInfo m : models.getModelsList()) {
      String ns =
          m.getName().contains("/") ? m.getName().substring(0, m.getName().indexOf('/')) : "";
      ObjectNode base =
          data.addObject()
              .put("id", m.getName())
              .put("object", "model")
              .put("created", created)
              .put("owned_by", ns.isEmpty() ? "flotilla" : ns)
              .put("ready_replicas", m.getReadyReplicas());
      if (m.getMaxSequenceLength() > 0) {
        base.put("max_model_len", m.getMaxSequenceLength());
      }
      for (AdapterInfo a : m.getAdaptersList()) {
        data.addObject()
            .put("id", m.getName() + ":" + a.getName())
            .put("object", "model")
            .put("created", created)
            .put(
                "owned_by",
                a.getVisibility() == AdapterInfo.Visibility.PUBLIC ? "public" : "private")
            .put("parent", m.getName());
      }
    }
    return root;
  }

  private ObjectNode head(Head head, boolean chunk) {
    String object =
        head.endpoint() == Endpoint.CHAT
            ? (chunk ? "chat.completion.chunk" : "chat.completion")
            : "text_completion";
    return json.createObjectNode()
        .put("id", head.id())
        .put("object", object)
        .put("created", head.created())
        .put("model", head.model());
  }

  private void logprobs(ObjectNode choice, Endpoint endpoint, Logprobs lp) {
    if (lp == null) {
      choice.putNull("logprobs");
      return;
    }
    ObjectNode out = choice.putObject("logprobs");
    if (endpoint == Endpoint.CHAT) {
      ArrayNode content = out.putArray("content");
      for (int i = 0; i < lp.tokens.size(); i++) {
        ObjectNode t = tokenLogprob(content, lp.tokens.get(i), lp.values.get(i));
        ArrayNode alternatives = t.putArray("top_logprobs");
        TopLogprobs top = lp.top.get(i);
        for (int j = 0; top != null && j < top.getLogprobsCount(); j++) {
          tokenLogprob(alternatives, top.getTokens(j), top.getLogprobs(j));
        }
      }
      out.putNull("refusal");
    } else {
      ArrayNode tokens = out.putArray("tokens");
      lp.tokens.forEach(tokens::add);
      ArrayNode values = out.putArray("token_logprobs");
      lp.values.forEach(values::add);
      if (lp.top.stream().allMatch(Objects::isNull)) {
        out.putNull("top_logprobs"); // logprobs: 0 asks for no alternatives
      } else {
        // One object per token from text to logprob: the alternatives and, as OpenAI always
        // includes it, the sampled token (so up to logprobs + 1 entries).
        ArrayNode top = out.putArray("top_logprobs");
        for (int i = 0; i < lp.tokens.size(); i++) {
          ObjectNode alternatives = top.addObject();
          TopLogprobs t = lp.top.get(i);
          for (int j = 0; t != null && j < t.getLogprobsCount(); j++) {
            if (!alternatives.has(t.getTokens(j))) {
              alternatives.put(t.getTokens(j), t.getLogprobs(j));
            }
          }
          if (!alternatives.has(lp.tokens.get(i))) {
            alternatives.put(lp.tokens.get(i), lp.values.get(i));
          }
        }
      }
      ArrayNode offsets = out.putArray("text_offset");
      lp.offsets.forEach(offsets::add);
    }
  }

  /** OpenAI's {@code {token, logprob, bytes}} object, added to {@code array}. */
  private static ObjectNode tokenLogprob(ArrayNode array, String token, float logprob) {
    ObjectNode t = array.addObject().put("token", token).put("logprob", logprob);
    ArrayNode bytes = t.putArray("bytes");
    for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
      bytes.add(b & 0xff);
    }
    return t;
  }

  private static void usage(ObjectNode root, Final fin) {
    root.putObject("usage")
        .put("prompt_tokens", fin.getUsage().getPromptTokens())
        .put("completion_tokens", fin.getUsage().getCompletionTokens())
        .put("total_tokens", fin.getUsage().getTotalTokens());
  }

  static String finishReason(FinishReason r) {
    return switch (r) {
      case LENGTH, CONTEXT_LENGTH -> "length";
      case TOOL_CALLS -> "tool_calls";
      default -> "stop";
    };
  }
}
