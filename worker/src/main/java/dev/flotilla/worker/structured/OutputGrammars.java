package dev.flotilla.worker.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.worker.text.TokenBytes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The grammars of one model's requests: a request's {@code response_format} or forced {@code
 * tool_choice} compiled once into an automaton with its per-state token masks over the model's
 * vocabulary, and kept for the next request with the same schema (least recently used out beyond
 * {@link #CACHE_SIZE}). A worker serves one model, so the cache is the (model, schema) cache.
 *
 * <p>A forced tool call is written as the Hermes format writes it, {@code <tool_call>\n{"name":
 * "NAME", "arguments": ARGS}\n</tool_call>}, ARGS valid for the function's {@code parameters}.
 */
public final class OutputGrammars {
  public static final int CACHE_SIZE = 64;
  public static final String CALL_OPEN = "<tool_call>\n";
  public static final String CALL_CLOSE = "}\n</tool_call>";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final TokenBytes vocabulary;
  private final Set<Integer> eos;
  private final Map<String, TokenMasks> cache =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, TokenMasks> eldest) {
          return size() > CACHE_SIZE;
        }
      };

  public OutputGrammars(TokenBytes vocabulary, Set<Integer> eosTokens) {
    this.vocabulary = vocabulary;
    this.eos = Set.copyOf(eosTokens);
  }

  /**
   * The grammar a request's output must follow; empty for free text.
   *
   * @param toolsJson the chat's tools (OpenAI's {@code tools}), empty for none
   * @throws SchemaException naming the field when the format, schema or tool choice is refused
   */
  public Optional<TokenMasks> forRequest(
      ResponseFormat format, ToolChoice choice, String toolsJson) {
    boolean forced =
        choice.getMode() == ToolChoice.Mode.REQUIRED
            || choice.getMode() == ToolChoice.Mode.FUNCTION;
    if (forced && format.getType() != ResponseFormat.Type.TEXT) {
      throw new SchemaException(
          "tool_choice",
          "a required or named tool choice cannot be combined with a JSON response_format");
    }
    if (forced) {
      String key =
          "tools\u0000" + choice.getMode() + "\u0000" + choice.getFunctionName() + toolsJson;
      return Optional.of(cached(key, () -> toolCall(choice, toolsJson)));
    }
    return switch (format.getType()) {
      case JSON_OBJECT ->
          Optional.of(cached("object", () -> SchemaCompiler.anyObject("response_format")));
      case JSON_SCHEMA -> {
        String field = "response_format.json_schema.schema";
        JsonNode schema = parse(format.getSchemaJson(), field);
        yield Optional.of(
            cached("schema\u0000" + schema, () -> SchemaCompiler.compile(schema, field)));
      }
      default -> Optional.empty();
    };
  }

  private ByteDfa toolCall(ToolChoice choice, String toolsJson) {
    JsonNode tools = toolsJson.isEmpty() ? JSON.createArrayNode() : parse(toolsJson, "tools");
    List<SchemaCompiler.Wrapped> calls = new ArrayList<>();
    for (int i = 0; i < tools.size(); i++) {
      JsonNode fn = tools.get(i).path("function");
      String name = fn.path("name").asText("");
      if (!tools.get(i).path("type").asText("function").equals("function") || name.isEmpty()) {
        throw new SchemaException("tools", "tool " + i + " must be a function with a name");
      }
      if (choice.getMode() == ToolChoice.Mode.FUNCTION && !name.equals(choice.getFunctionName())) {
        continue;
      }
      JsonNode parameters = fn.get("parameters");
      if (parameters == null || parameters.isNull()) {
        ObjectNode none = JSON.createObjectNode().put("type", "object");
        none.putObject("properties");
        parameters = none;
      }
      ObjectNode nameNode = JSON.createObjectNode().put("name", name);
      String head = nameNode.toString();
      calls.add(
          new SchemaCompiler.Wrapped(
              CALL_OPEN + head.substring(0, head.length() - 1) + ", \"arguments\": ",
              parameters,
              CALL_CLOSE,
              "tools/" + i + "/function/parameters"));
    }
    if (calls.isEmpty()) {
      throw new SchemaException(
          "tool_choice",
          choice.getMode() == ToolChoice.Mode.FUNCTION
              ? "names function '" + choice.getFunctionName() + "', which tools does not list"
              : "required needs at least one tool in tools");
    }
    return SchemaCompiler.alternatives(calls, "tools");
  }

  private TokenMasks cached(String key, java.util.function.Supplier<ByteDfa> compile) {
    synchronized (cache) {
      TokenMasks hit = cache.get(key);
      if (hit != null) {
        return hit;
      }
    }
    TokenMasks built = new TokenMasks(compile.get(), vocabulary, eos);
    synchronized (cache) {
      return cache.computeIfAbsent(key, k -> built);
    }
  }

  private static JsonNode parse(String json, String field) {
    try {
      JsonNode node = JSON.readTree(json);
      if (node == null) {
        throw new SchemaException(field, "is empty");
      }
      return node;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new SchemaException(field, "is not valid JSON: " + e.getOriginalMessage());
    }
  }
}
