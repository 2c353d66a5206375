package dev.flotilla.worker.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.worker.text.TokenBytes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The grammars of one model's requests: a request's {@code response_format} or forced {@code
 * tool_choice} compiled once into an automaton with its per-state token masks over the model's
 * vocabulary, and kept for the next request with the same schema (least recently used out beyond
 * {@link #CACHE_SIZE}). A worker serves one model, so the cache is the (model, schema) cache.
 *
 * <p>Compiling runs on {@link #COMPILE_THREADS} threads of its own, never on the caller's (a gRPC
 * event loop): a schema can take long to determinize. Requests for a schema being compiled share
 * the one compilation; one that runs past its time limit is stopped and refused by field, and at
 * most {@link #COMPILE_QUEUE} compilations wait.
 *
 * <p>A forced tool call is written as the Hermes format writes it, {@code <tool_call>\n{"name":
 * "NAME", "arguments": ARGS}\n</tool_call>}, ARGS valid for the function's {@code parameters};
 * several calls ({@code required} with parallel tool calls) are separated by {@link
 * #CALL_SEPARATOR}.
 */
public final class OutputGrammars {
  public static final int CACHE_SIZE = 64;
  public static final String CALL_OPEN = "<tool_call>\n";
  public static final String CALL_CLOSE = "}\n</tool_call>";
  public static final String CALL_SEPARATOR = "\n";
  public static final Duration DEFAULT_COMPILE_LIMIT = Duration.ofSeconds(10);
  static final int COMPILE_THREADS = 2;
  static final int COMPILE_QUEUE = 32;
  private static final ScheduledExecutorService ALARMS =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "grammar-compile-alarm");
            t.setDaemon(true);
            return t;
          });

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Supplier<TokenBytes> vocabularyLoader;
  private final Set<Integer> eos;
  private final Duration compileLimit;
  private final ThreadPoolExecutor compiler =
      new ThreadPoolExecutor(
          COMPILE_THREADS,
          COMPILE_THREADS,
          30,
          TimeUnit.SECONDS,
          new ArrayBlockingQueue<>(COMPILE_QUEUE),
          r -> {
            Thread t = new Thread(r, "grammar-compile");
            t.setDaemon(true);
            return t;
          });
  // guarded by cache; a failed compilation leaves it, so the next request tries again
  private final Map<String, CompletableFuture<TokenMasks>> cache =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, CompletableFuture<TokenMasks>> e) {
          return size() > CACHE_SIZE;
        }
      };
  private TokenBytes vocabulary; // guarded by this; loaded by the first compilation

  /**
   * @param vocabulary loads the model's token bytes; called once, on a compiling thread
   * @param compileLimit how long one compilation may run before its schema is refused
   */
  public OutputGrammars(
      Supplier<TokenBytes> vocabulary, Set<Integer> eosTokens, Duration compileLimit) {
    this.vocabularyLoader = vocabulary;
    this.eos = Set.copyOf(eosTokens);
    this.compileLimit = compileLimit;
    compiler.allowCoreThreadTimeOut(true);
  }

  /**
   * The grammar a request's output must follow, once compiled (at once when cached); empty for free
   * text. The future fails with a {@link SchemaException} naming the field when the schema is
   * refused or runs past the time limit, and with {@link RejectedExecutionException} when too many
   * compilations wait.
   *
   * @param toolsJson the chat's tools (OpenAI's {@code tools}), empty for none
   * @throws SchemaException naming the field when the format or tool choice is refused outright
   */
  public CompletableFuture<Optional<TokenMasks>> forRequest(
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
      boolean several = severalCalls(choice);
      String key =
          "tools\u0000"
              + choice.getMode()
              + "\u0000"
              + several
              + "\u0000"
              + choice.getFunctionName()
              + toolsJson;
      return cached(key, "tools", () -> toolCall(choice, several, toolsJson))
          .thenApply(Optional::of);
    }
    return switch (format.getType()) {
      case JSON_OBJECT ->
          cached("object", "response_format", () -> SchemaCompiler.anyObject("response_format"))
              .thenApply(Optional::of);
      case JSON_SCHEMA -> {
        String field = "response_format.json_schema.schema";
        JsonNode schema = parse(format.getSchemaJson(), field);
        yield cached("schema\u0000" + schema, field, () -> SchemaCompiler.compile(schema, field))
            .thenApply(Optional::of);
      }
      default -> CompletableFuture.completedFuture(Optional.empty());
    };
  }

  /**
   * Whether a forced choice allows several calls: {@code required} unless parallel tool calls are
   * off (OpenAI's default is on); a named function is called once.
   */
  static boolean severalCalls(ToolChoice choice) {
    return choice.getMode() == ToolChoice.Mode.REQUIRED
        && (!choice.hasParallelToolCalls() || choice.getParallelToolCalls());
  }

  private ByteDfa toolCall(ToolChoice choice, boolean several, String toolsJson) {
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
    return several
        ? SchemaCompiler.repeatedAlternatives(calls, CALL_SEPARATOR, "tools")
        : SchemaCompiler.alternatives(calls, "tools");
  }

  private CompletableFuture<TokenMasks> cached(
      String key, String field, Supplier<ByteDfa> compile) {
    CompletableFuture<TokenMasks> result;
    synchronized (cache) {
      CompletableFuture<TokenMasks> hit = cache.get(key);
      if (hit != null) {
        return hit;
      }
      result = new CompletableFuture<>();
      cache.put(key, result);
    }
    result.whenComplete(
        (masks, error) -> {
          if (error != null) {
            synchronized (cache) {
              cache.remove(key, result);
            }
          }
        });
    try {
      compiler.execute(() -> compile(result, field, compile));
    } catch (RejectedExecutionException e) {
      result.completeExceptionally(
          new RejectedExecutionException(
              "the worker is compiling " + COMPILE_QUEUE + " other schemas; retry"));
    }
    return result;
  }

  /**
   * Compiles on this thread, which an alarm interrupts when the limit passes (the automaton's
   * builders check for it); the refusal is the alarm's, whatever the compilation throws then.
   */
  private void compile(
      CompletableFuture<TokenMasks> result, String field, Supplier<ByteDfa> compile) {
    Thread self = Thread.currentThread();
    Object lock = new Object();
    boolean[] running = {true};
    ScheduledFuture<?> alarm =
        ALARMS.schedule(
            () -> {
              result.completeExceptionally(
                  new SchemaException(
                      field,
                      "the schema did not compile within "
                          + compileLimit.toMillis()
                          + " ms; simplify it (fewer optional properties, anyOf branches or"
                          + " nesting)"));
              synchronized (lock) {
                if (running[0]) {
                  self.interrupt();
                }
              }
            },
            compileLimit.toMillis(),
            TimeUnit.MILLISECONDS);
    try {
      ByteDfa dfa = compile.get();
      result.complete(new TokenMasks(dfa, vocabulary(), eos));
    } catch (RuntimeException e) {
      result.completeExceptionally(e);
    } finally {
      alarm.cancel(false);
      synchronized (lock) {
        running[0] = false;
      }
      Thread.interrupted(); // the pool's thread goes on clean
    }
  }

  private synchronized TokenBytes vocabulary() {
    if (vocabulary == null) {
      vocabulary = vocabularyLoader.get();
    }
    return vocabulary;
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
