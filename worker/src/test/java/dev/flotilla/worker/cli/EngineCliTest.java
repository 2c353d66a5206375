package dev.flotilla.worker.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.testkit.ReferenceModel;
import dev.flotilla.worker.TestLogs;
import dev.flotilla.worker.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine command line on the tiny model, checked against the reference forward pass. */
class EngineCliTest {
  @TempDir Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    TestLogs.quiet();
    return EngineCli.run(
        args,
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String stdout() {
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void greedyIdsAndLogitsMatchTheReference() throws Exception {
    Path model = TestModels.ensure();
    Path adapter = TestModels.ADAPTERS.get("lora-1");
    int[] prompt = {256, 72, 101, 108, 108, 111};
    Path logitsFile = dir.resolve("logits.bin");
    int code =
        run(
            "--model",
            model.toString(),
            "--adapter",
            adapter.toString(),
            "--prompt-ids",
            Arrays.stream(prompt).mapToObj(String::valueOf).collect(Collectors.joining(",")),
            "--max-tokens",
            "8",
            "--threads",
            "1",
            "--logits-out",
            logitsFile.toString(),
            "--ignore-eos");
    assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();

    ReferenceModel reference = ReferenceModel.load(model).withAdapter(adapter);
    int[] expected = Arrays.copyOf(reference.greedy(prompt, 8), 8);
    assertThat(stdout())
        .contains(
            "token_ids: "
                + Arrays.stream(expected)
                    .mapToObj(String::valueOf)
                    .collect(Collectors.joining(",")));

    double[] ref = reference.lastLogits(prompt);
    ByteBuffer bytes =
        ByteBuffer.wrap(Files.readAllBytes(logitsFile)).order(ByteOrder.LITTLE_ENDIAN);
    assertThat(bytes.capacity()).isEqualTo(ref.length * 4);
    double diff = 0;
    double mag = 0;
    for (double r : ref) {
      diff = Math.max(diff, Math.abs(bytes.getFloat() - r));
      mag = Math.max(mag, Math.abs(r));
    }
    assertThat(diff / mag).as("max relative logit error").isLessThan(1e-4);
  }

  @Test
  void int8WeightsStayCloseToTheReference() throws Exception {
    Path model = TestModels.ensure();
    int[] prompt = {256, 72, 101, 108, 108, 111};
    Path logitsFile = dir.resolve("logits-int8.bin");
    int code =
        run(
            "--model",
            model.toString(),
            "--dtype",
            "int8",
            "--prompt-ids",
            Arrays.stream(prompt).mapToObj(String::valueOf).collect(Collectors.joining(",")),
            "--max-tokens",
            "0",
            "--threads",
            "1",
            "--logits-out",
            logitsFile.toString());
    assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("INT8 weights");

    double[] ref = ReferenceModel.load(model).lastLogits(prompt);
    ByteBuffer bytes =
        ByteBuffer.wrap(Files.readAllBytes(logitsFile)).order(ByteOrder.LITTLE_ENDIAN);
    double diff = 0;
    double norm = 0;
    for (double r : ref) {
      double d = bytes.getFloat() - r;
      diff += d * d;
      norm += r * r;
    }
    assertThat(Math.sqrt(diff / norm)).as("relative L2 of the int8 logits").isLessThan(2e-2);
  }

  @Test
  void tokenizesATextPromptAndPrintsText() {
    int code =
        run(
            "--model",
            TestModels.ensure().toString(),
            "--prompt",
            "the cat sat",
            "--max-tokens",
            "5",
            "--threads",
            "1",
            "--temperature",
            "0.8",
            "--top-k",
            "40",
            "--top-p",
            "0.9",
            "--seed",
            "7");
    assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
    String[] lines = stdout().split("\n");
    assertThat(lines[lines.length - 1]).startsWith("token_ids: ");
    String first = stdout();
    out.reset();
    run(
        "--model",
        TestModels.ensure().toString(),
        "--prompt",
        "the cat sat",
        "--max-tokens",
        "5",
        "--threads",
        "1",
        "--temperature",
        "0.8",
        "--top-k",
        "40",
        "--top-p",
        "0.9",
        "--seed",
        "7");
    assertThat(stdout()).as("a seed reproduces the sample").isEqualTo(first);
  }

  @Test
  void explainsBadArgumentsAndBadFiles() {
    assertThat(run("--prompt", "x")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--model is required", "Usage:");
    err.reset();
    assertThat(run("--model", "m", "--prompt", "x", "--prompt-ids", "1")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("exactly one of --prompt and --prompt-ids");
    err.reset();
    assertThat(run("--model", "m", "--prompt-ids", "1,x")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("comma-separated integers");
    err.reset();
    assertThat(run("--model", "m", "--prompt-ids", "1", "--dtype", "int4")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("--dtype must be as-stored or int8, got 'int4'");
    err.reset();
    assertThat(run("--model", dir.resolve("missing").toString(), "--prompt-ids", "1")).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("missing", "is not a directory");
    err.reset();
    assertThat(
            run(
                "--model",
                TestModels.ensure().toString(),
                "--adapter",
                TestModels.MISMATCHED.toString(),
                "--prompt-ids",
                "1"))
        .isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("lora_A");
    err.reset();
    assertThat(run("--model", TestModels.ensure().toString(), "--prompt-ids", "5000")).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("5000");
  }
}
