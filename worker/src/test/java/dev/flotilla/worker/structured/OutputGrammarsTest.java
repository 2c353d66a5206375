package dev.flotilla.worker.structured;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.testkit.TinyModelGenerator;
import dev.flotilla.worker.text.TokenBytes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A request's grammar: forced tool calls one or several as parallel_tool_calls says, compiled off
 * the caller's thread and refused by field when compiling runs past its limit.
 */
class OutputGrammarsTest {
  private static final String TOOLS =
      "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\","
          + "\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]}}},"
          + "{\"type\":\"function\",\"function\":{\"name\":\"g\"}}]";
  private static final String F =
      "<tool_call>\n{\"name\":\"f\", \"arguments\": {\"a\": 1}}\n</tool_call>";
  private static final String G = "<tool_call>\n{\"name\":\"g\", \"arguments\": {}}\n</tool_call>";

  @TempDir static Path dir;
  static TokenBytes vocabulary;

  @BeforeAll
  static void model() throws Exception {
    Path model = TinyModelGenerator.tiny().seed(3).generate(dir.resolve("model")).directory();
    vocabulary = TokenBytes.load(model, 1024);
  }

  private static OutputGrammars grammars(Duration limit) {
    return new OutputGrammars(() -> vocabulary, Set.of(2), limit);
  }

  private static ByteDfa required(OutputGrammars g, ToolChoice.Builder choice) {
    return g.forRequest(ResponseFormat.getDefaultInstance(), choice.build(), TOOLS)
        .orTimeout(60, TimeUnit.SECONDS)
        .join()
        .orElseThrow()
        .automaton();
  }

  private static boolean accepts(ByteDfa dfa, String text) {
    return dfa.matches(text.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void requiredAllowsOneOrMoreCallsUnlessParallelCallsAreOff() {
    OutputGrammars g = grammars(OutputGrammars.DEFAULT_COMPILE_LIMIT);
    ByteDfa parallel = required(g, ToolChoice.newBuilder().setMode(ToolChoice.Mode.REQUIRED));
    assertThat(accepts(parallel, F)).isTrue();
    assertThat(accepts(parallel, F + "\n" + G + "\n" + F)).isTrue();
    assertThat(
            accepts(
                parallel,
                F + "\n" + "<tool_call>\n{\"name\":\"f\", \"arguments\": {}}\n</tool_call>"))
        .as("each call's arguments match its own function")
        .isFalse();
    assertThat(accepts(parallel, "")).isFalse();

    ByteDfa single =
        required(
            g,
            ToolChoice.newBuilder().setMode(ToolChoice.Mode.REQUIRED).setParallelToolCalls(false));
    assertThat(accepts(single, G)).isTrue();
    assertThat(accepts(single, F + "\n" + G)).isFalse();

    ByteDfa named =
        required(g, ToolChoice.newBuilder().setMode(ToolChoice.Mode.FUNCTION).setFunctionName("f"));
    assertThat(accepts(named, F)).isTrue();
    assertThat(accepts(named, F + "\n" + F)).as("a named function is called once").isFalse();
  }

  @Test
  void aSchemaThatCompilesPastTheLimitIsRefusedByField() {
    StringBuilder schema = new StringBuilder("{\"type\":\"object\",\"properties\":{");
    for (int i = 0; i < 40; i++) {
      schema.append(i == 0 ? "" : ",").append("\"p").append(i).append("\":{\"anyOf\":[");
      schema.append(
          "{\"type\":\"string\",\"maxLength\":900},{\"type\":\"number\"},{\"type\":\"object\"}]}");
    }
    schema.append("}}");
    OutputGrammars g = grammars(Duration.ofMillis(1));
    CompletableFuture<?> result =
        g.forRequest(
            ResponseFormat.newBuilder()
                .setType(ResponseFormat.Type.JSON_SCHEMA)
                .setSchemaJson(schema.toString())
                .build(),
            ToolChoice.getDefaultInstance(),
            "");
    Throwable error = catchCompletion(result);
    assertThat(error).isInstanceOf(SchemaException.class);
    assertThat(((SchemaException) error).field()).isEqualTo("response_format.json_schema.schema");
    assertThat(error.getMessage()).contains("did not compile within 1 ms");
  }

  private static Throwable catchCompletion(CompletableFuture<?> f) {
    try {
      f.orTimeout(60, TimeUnit.SECONDS).join();
    } catch (CompletionException e) {
      return e.getCause();
    }
    throw new AssertionError("the compilation was not refused");
  }
}
