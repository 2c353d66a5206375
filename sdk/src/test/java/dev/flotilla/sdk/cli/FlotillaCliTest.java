package dev.flotilla.sdk.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.AdapterInfo;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.ModelInfo;
import dev.flotilla.sdk.Replies;
import dev.flotilla.sdk.TestGateway;
import io.grpc.Metadata;
import io.grpc.Status;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CLI end to end: real argument parsing, a real channel over loopback TCP, the fake gateway
 * behind it.
 */
class FlotillaCliTest {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final TestGateway gateway = TestGateway.loopback();
  private final Map<String, String> env =
      Map.of("FLOTILLA_TARGET", gateway.target(), "FLOTILLA_API_KEY", "env-key");
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @AfterEach
  void stop() throws InterruptedException {
    gateway.close();
  }

  @Test
  void generateStreamsTextToStdoutAndUsageToStderr() {
    gateway.service.onGenerate =
        (request, responses, attempt) -> {
          responses.onNext(Replies.tokens("Hello"));
          responses.onNext(Replies.tokens(", world"));
          responses.onNext(Replies.finalMessage(request.getRequestId()));
          responses.onCompleted();
        };

    int status =
        run(
            "generate",
            "--model",
            "llama",
            "--adapter",
            "sql",
            "--max-tokens",
            "16",
            "--temperature",
            "0.5",
            "--top-k",
            "40",
            "--top-p=0.9",
            "--seed",
            "42",
            "--stop",
            "\n",
            "--stop",
            "END",
            "Say",
            "hello");

    assertThat(status).isZero();
    assertThat(stdout()).isEqualTo("Hello, world\n");
    GenerateRequest sent = gateway.service.generateRequests.get(0);
    assertThat(stderr())
        .isEqualTo(
            "finish=LENGTH prompt_tokens=3 completion_tokens=2 total_tokens=5 ttft_ms=0"
                + " total_ms=0 request_id="
                + sent.getRequestId()
                + "\n");
    assertThat(sent.getModel()).isEqualTo("llama");
    assertThat(sent.getAdapter()).isEqualTo("sql");
    assertThat(sent.getPrompt()).isEqualTo("Say hello");
    assertThat(sent.getSampling().getMaxTokens()).isEqualTo(16);
    assertThat(sent.getSampling().getTemperature()).isEqualTo(0.5f);
    assertThat(sent.getSampling().getTopK()).isEqualTo(40);
    assertThat(sent.getSampling().getTopP()).isEqualTo(0.9f);
    assertThat(sent.getSampling().getSeed()).isEqualTo(42);
    assertThat(sent.getSampling().getStopList()).containsExactly("\n", "END");
    assertThat(sent.getReportProgress()).isTrue();
    assertThat(gateway.headers.get(0).get(AUTHORIZATION)).isEqualTo("Bearer env-key");
  }

  @Test
  void optionsOverrideTheEnvironment() {
    gateway.service.onListModels =
        (request, responses, attempt) -> {
          responses.onNext(ListModelsResponse.getDefaultInstance());
          responses.onCompleted();
        };

    int status =
        FlotillaCli.run(
            new String[] {"models", "--target", gateway.target(), "--api-key", "flag-key"},
            print(out),
            print(err),
            Map.of("FLOTILLA_TARGET", "127.0.0.1:1", "FLOTILLA_API_KEY", "env-key"));

    assertThat(status).isZero();
    assertThat(gateway.headers.get(0).get(AUTHORIZATION)).isEqualTo("Bearer flag-key");
  }

  @Test
  void modelsListsModelsAndAdapters() {
    gateway.service.onListModels =
        (request, responses, attempt) -> {
          responses.onNext(
              ListModelsResponse.newBuilder()
                  .addModels(
                      ModelInfo.newBuilder()
                          .setName("llama")
                          .setMaxSequenceLength(4096)
                          .setReadyReplicas(1)
                          .addAdapters(
                              AdapterInfo.newBuilder()
                                  .setName("sql")
                                  .setVisibility(AdapterInfo.Visibility.PRIVATE)
                                  .setRank(8)))
                  .addModels(ModelInfo.newBuilder().setName("qwen").setMaxSequenceLength(2048))
                  .build());
          responses.onCompleted();
        };

    int status = run("models");

    assertThat(status).isZero();
    assertThat(stdout())
        .isEqualTo(
            """
                model llama  max-sequence-length=4096  ready-replicas=1
                  adapter sql  visibility=private  rank=8
                model qwen  max-sequence-length=2048  ready-replicas=0
                """);
    assertThat(stderr()).isEmpty();
  }

  @Test
  void serverErrorExitsWithOneAndNamesTheStatus() {
    gateway.service.onGenerate =
        (request, responses, attempt) ->
            responses.onError(Replies.error(Status.Code.NOT_FOUND, "no model 'nope'"));

    int status = run("generate", "--model", "nope", "hi");

    assertThat(status).isEqualTo(1);
    assertThat(stdout()).isEmpty();
    assertThat(stderr()).startsWith("error: NOT_FOUND: no model 'nope' (request id ");
  }

  @Test
  void failureMidStreamEndsThePartialLineThenReportsTheError() {
    gateway.service.onGenerate =
        (request, responses, attempt) -> {
          responses.onNext(Replies.tokens("partial"));
          responses.onError(Replies.error(Status.Code.ABORTED, "worker failed"));
        };

    int status = run("generate", "--model", "m", "hi");

    assertThat(status).isEqualTo(1);
    assertThat(stdout()).isEqualTo("partial\n");
    assertThat(stderr()).startsWith("error: ABORTED: worker failed");
    assertThat(gateway.service.generateRequests).hasSize(1);
  }

  @Test
  void unreachableGatewayExitsWithOneAndSaysWhy() throws Exception {
    String target = gateway.target();
    gateway.close(); // nothing listens on the port any more

    int status =
        FlotillaCli.run(
            new String[] {"models", "--target", target, "--timeout", "5"},
            print(out),
            print(err),
            Map.of());

    assertThat(status).isEqualTo(1);
    assertThat(stderr()).startsWith("error: UNAVAILABLE").contains("Connection refused");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "frobnicate",
        "generate hi",
        "generate --model m",
        "generate --model m --max-tokens many hi",
        "generate --model m --temperature -1 hi",
        "generate --model m --colour red hi",
        "generate --model m --model n hi",
        "generate --model",
        "models --model m",
        "models extra",
        "models --plaintext --tls"
      })
  void badCommandLinesExitWithTwoAndPrintUsage(String commandLine) {
    int status = run(commandLine.isEmpty() ? new String[0] : commandLine.split(" "));

    assertThat(status).isEqualTo(2);
    assertThat(stderr()).startsWith("error: ").contains("usage: flotilla");
    assertThat(stdout()).isEmpty();
    assertThat(gateway.headers).isEmpty();
  }

  @Test
  void helpPrintsUsageToStdout() {
    assertThat(run("--help")).isZero();
    assertThat(stdout()).isEqualTo(FlotillaCli.USAGE);
    assertThat(stderr()).isEmpty();
  }

  private int run(String... args) {
    return FlotillaCli.run(args, print(out), print(err), env);
  }

  private static PrintStream print(ByteArrayOutputStream bytes) {
    return new PrintStream(bytes, true, StandardCharsets.UTF_8);
  }

  private String stdout() {
    return out.toString(StandardCharsets.UTF_8);
  }

  private String stderr() {
    return err.toString(StandardCharsets.UTF_8);
  }
}
