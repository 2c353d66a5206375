package dev.flotilla.worker.structured;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.testkit.TinyModelGenerator;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.Model;
import dev.flotilla.worker.engine.NativeEngine;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.runtime.GenerationConfig;
import dev.flotilla.worker.scheduler.AdapterCatalog;
import dev.flotilla.worker.scheduler.NativeEngineBackend;
import dev.flotilla.worker.scheduler.Scheduler;
import dev.flotilla.worker.scheduler.SchedulerMetrics;
import dev.flotilla.worker.scheduler.SequenceOutput;
import dev.flotilla.worker.scheduler.SequenceRequest;
import dev.flotilla.worker.scheduler.SequenceResult;
import dev.flotilla.worker.text.TextTokenizer;
import dev.flotilla.worker.text.TokenBytes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property: on random prompts and random seeds, the real engine with a tiny random model, batched,
 * produces output that always parses and validates against the schema when it ends on its own, and
 * that the grammar still accepts as a prefix when max_tokens cuts it ("length").
 */
class StructuredOutputEngineTest {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final int MAX_TOKENS = 400;

  @TempDir static Path dir;
  private static Path modelDir;

  @BeforeAll
  static void model() throws Exception {
    assertThat(NativeEngine.unavailabilityCause()).as("native engine load failure").isNull();
    modelDir = TinyModelGenerator.tiny().seed(11).generate(dir.resolve("model")).directory();
  }

  static final List<String> SCHEMAS =
      List.of(
          // nested objects, enum, optional properties
          "{\"type\":\"object\",\"properties\":{"
              + "\"name\":{\"type\":\"string\",\"maxLength\":6},"
              + "\"kind\":{\"enum\":[\"cat\",\"dog\",\"eel\"]},"
              + "\"owner\":{\"type\":\"object\",\"properties\":{"
              + "\"age\":{\"type\":\"integer\"},\"vip\":{\"type\":\"boolean\"}},"
              + "\"required\":[\"age\"]}},"
              + "\"required\":[\"name\",\"kind\",\"owner\"],\"additionalProperties\":false}",
          // arrays of anyOf
          "{\"type\":\"array\",\"items\":{\"anyOf\":["
              + "{\"type\":\"number\"},{\"type\":\"null\"},"
              + "{\"type\":\"string\",\"minLength\":1,\"maxLength\":3}]}}",
          // array inside object, nullable type list
          "{\"type\":\"object\",\"properties\":{"
              + "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\",1,true]}},"
              + "\"score\":{\"type\":[\"number\",\"null\"]}},"
              + "\"required\":[\"tags\",\"score\"]}",
          // a bare enum of mixed values
          "{\"enum\":[\"yes\",\"no\",42,null,{\"k\":[1]}]}");

  @Test
  void outputAlwaysParsesAndValidates() throws Exception {
    Set<Integer> eos = GenerationConfig.eosTokens(modelDir);
    ContextParams params =
        ContextParams.defaults()
            .withKvBudgetBytes(64L << 20)
            .withMaxBatchTokens(512)
            .withMaxSequences(32)
            .withThreads(2);
    try (Model model = Model.load(modelDir);
        TextTokenizer tokenizer = TextTokenizer.load(modelDir)) {
      int vocab = model.info().vocabSize();
      TokenBytes tokenBytes = TokenBytes.load(modelDir, vocab);
      OutputGrammars grammars =
          new OutputGrammars(() -> tokenBytes, eos, OutputGrammars.DEFAULT_COMPILE_LIMIT);
      NativeEngineBackend engine = new NativeEngineBackend(model, params);
      try (Scheduler scheduler =
          new Scheduler(
              engine,
              new Scheduler.Limits(32, 512, 64, 0, 0, 1024, eos),
              new AdapterCatalog(Map.of()),
              Runnable::run,
              SchedulerMetrics.NONE,
              System::nanoTime)) {
        Random random = new Random(20261207);
        List<Run> runs = new ArrayList<>();
        for (int round = 0; round < 4; round++) {
          for (String schema : SCHEMAS) {
            for (int i = 0; i < 8; i++) {
              int[] prompt = new int[1 + random.nextInt(24)];
              for (int p = 0; p < prompt.length; p++) {
                prompt[p] = random.nextInt(256); // byte tokens: every prompt is some text
              }
              TokenMasks masks =
                  grammars
                      .forRequest(
                          ResponseFormat.newBuilder()
                              .setType(ResponseFormat.Type.JSON_SCHEMA)
                              .setSchemaJson(schema)
                              .build(),
                          ToolChoice.getDefaultInstance(),
                          "")
                      .join()
                      .orElseThrow();
              Run run = new Run(schema, masks);
              scheduler.submit(
                  new SequenceRequest(
                      "r" + runs.size(),
                      null,
                      prompt,
                      new SamplingParams(1.0f, 0, 1f, random.nextLong()),
                      MAX_TOKENS,
                      false,
                      0,
                      0),
                  run,
                  new GrammarConstraint(masks));
              runs.add(run);
            }
          }
        }
        while (runs.stream().anyMatch(r -> r.result == null && r.failure == null)) {
          scheduler.runOnce();
        }
        int stopped = 0;
        for (Run run : runs) {
          assertThat(run.failure).as("failure of a run of %s", run.schema).isNull();
          String text = tokenizer.decode(run.textTokens(eos), 0, run.textTokens(eos).length);
          if (run.result.reason() == SequenceResult.FinishReason.STOP) {
            stopped++;
            JsonNode value = JSON.readTree(text);
            assertThat(JsonSchemaCheck.valid(value, JSON.readTree(run.schema)))
                .as("%s valid for %s", text, run.schema)
                .isTrue();
          } else {
            assertThat(run.result.reason()).isEqualTo(SequenceResult.FinishReason.LENGTH);
            assertThat(run.masks.automaton().walk(0, text.getBytes(StandardCharsets.UTF_8)))
                .as("a cut output is a prefix the grammar accepts: %s", text)
                .isNotEqualTo(ByteDfa.DEAD);
          }
        }
        // the property is not vacuous: most outputs end on their own well within max_tokens
        assertThat(stopped).isGreaterThan(runs.size() * 3 / 4);
      }
    }
  }

  /** One sequence's tokens and end. */
  private static final class Run implements SequenceOutput {
    final String schema;
    final TokenMasks masks;
    final List<Integer> tokens = new ArrayList<>();
    volatile SequenceResult result;
    volatile String failure;

    Run(String schema, TokenMasks masks) {
      this.schema = schema;
      this.masks = masks;
    }

    int[] textTokens(Set<Integer> eos) {
      return tokens.stream().filter(t -> !eos.contains(t)).mapToInt(Integer::intValue).toArray();
    }

    @Override
    public boolean onToken(int token, float logprob) {
      tokens.add(token);
      return false;
    }

    @Override
    public void onFinish(SequenceResult result) {
      this.result = result;
    }

    @Override
    public void onFailure(Failure failure, String message) {
      this.failure = failure + ": " + message;
    }
  }
}
