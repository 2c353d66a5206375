package dev.flotilla.gateway.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.crd.Visibility;
import dev.flotilla.gateway.Fixtures;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.service.FakeWorker;
import dev.flotilla.gateway.usage.UsageLedger;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The gateway application (Quarkus, informers on an in-memory API server, a fake worker on
 * loopback) driven by the official {@code openai} npm client: completions and chat completions,
 * with and without streaming, the model list, and a wrong key. Needs {@code node} and {@code npm}
 * on the PATH; {@code openai} is installed once into {@code target/openai-client}.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class OpenAiClientIT {
  /** Newest {@code openai} without an {@code engines} floor above Node.js 20 (7.x needs 22). */
  static final String OPENAI_VERSION = "6.30.1";

  private static final Path CLIENT_DIR = Path.of("target", "openai-client");
  private static final Path SCRIPT = Path.of("src", "test", "js", "openai-client.cjs");
  private static final String KEY = "flk_openai_it_key";
  private static final String MODEL = "default/oai-model";

  @Inject KubernetesClient kubernetes;
  @Inject WorkerRegistry registry;
  @Inject UsageLedger ledger;

  @TestHTTPResource("/v1")
  URL api;

  @Test
  void theOfficialOpenAiClientWorksAgainstTheGateway() throws Exception {
    Path modules = installOpenAiClient();
    kubernetes
        .resource(Fixtures.keySecret("default", "oai-keys", "k", Fixtures.sha256Entry(KEY)))
        .create();
    kubernetes
        .resource(Fixtures.tenant("oai-tenant", "oai-keys", List.of("*"), 1, Priority.Normal, null))
        .create();
    kubernetes.resource(Fixtures.model("default", "oai-model", "1m")).create();
    kubernetes
        .resource(
            Fixtures.adapter("default", "oai-own", "oai-model", "oai-tenant", Visibility.Private))
        .create();
    kubernetes
        .resource(
            Fixtures.adapter(
                "default", "oai-theirs", "oai-model", "someone-else", Visibility.Private))
        .create();
    kubernetes
        .resource(Fixtures.adapter("default", "oai-public", "oai-model", null, Visibility.Public))
        .create();
    try (FakeWorker worker = new FakeWorker("oai-w1")) {
      worker.tokens = 3;
      registry.upsert(new WorkerRegistry.Endpoint("oai-w1", MODEL, worker.address()));
      HttpClient http = HttpClient.newHttpClient();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> {
                HttpResponse<String> r =
                    http.send(
                        HttpRequest.newBuilder(URI.create(api + "/models"))
                            .header("Authorization", "Bearer " + KEY)
                            .build(),
                        HttpResponse.BodyHandlers.ofString());
                return r.statusCode() == 200
                    && r.body().contains(MODEL + ":oai-public")
                    && r.body().contains(MODEL + ":oai-own")
                    && registry.readyCount(MODEL) == 1;
              });
      long spooledBefore = ledger.pending();

      JsonNode out =
          runClient(
              modules,
              Map.of(
                  "OPENAI_BASE_URL",
                  api.toString(),
                  "FLOTILLA_KEY",
                  KEY,
                  "FLOTILLA_MODEL",
                  MODEL,
                  "FLOTILLA_ADAPTER_MODEL",
                  MODEL + ":oai-own"));

      JsonNode completion = out.get("completion");
      assertThat(completion.get("object").asText()).isEqualTo("text_completion");
      assertThat(completion.get("id").asText()).startsWith("cmpl-");
      assertThat(completion.get("text").asText()).isEqualTo("t0 t1 t2 ");
      assertThat(completion.get("finish_reason").asText()).isEqualTo("length");
      assertThat(completion.get("usage").get("completion_tokens").asInt()).isEqualTo(3);
      assertThat(completion.get("usage").get("total_tokens").asInt()).isEqualTo(10);

      JsonNode chat = out.get("chat");
      assertThat(chat.get("object").asText()).isEqualTo("chat.completion");
      assertThat(chat.get("role").asText()).isEqualTo("assistant");
      assertThat(chat.get("content").asText()).isEqualTo("t0 t1 ");
      assertThat(chat.get("finish_reason").asText()).isEqualTo("length");
      assertThat(chat.get("usage").get("completion_tokens").asInt()).isEqualTo(2);

      JsonNode chatStream = out.get("chatStream");
      assertThat(chatStream.get("text").asText()).isEqualTo("t0 t1 t2 ");
      assertThat(chatStream.get("finish_reason").asText()).isEqualTo("stop");
      assertThat(chatStream.get("chunks").asInt()).isEqualTo(5); // 3 tokens, finish, usage
      assertThat(chatStream.get("ids").asInt()).isEqualTo(1);
      assertThat(chatStream.get("usage").get("completion_tokens").asInt()).isEqualTo(3);

      JsonNode completionStream = out.get("completionStream");
      assertThat(completionStream.get("text").asText()).isEqualTo("t0 t1 ");
      assertThat(completionStream.get("finish_reason").asText()).isEqualTo("length");
      assertThat(completionStream.get("usage").isNull()).isTrue();

      // n choices: each with its index, text and finish reason; the prompt billed once
      JsonNode choices = out.get("choices");
      assertThat(choices.get("texts").toString())
          .isEqualTo(
              "[[0,\"c0t0 c0t1 \",\"length\"],[1,\"c1t0 c1t1 \",\"length\"],"
                  + "[2,\"c2t0 c2t1 \",\"length\"]]");
      assertThat(choices.get("usage").get("prompt_tokens").asInt()).isEqualTo(7);
      assertThat(choices.get("usage").get("completion_tokens").asInt()).isEqualTo(6);
      JsonNode chatChoices = out.get("chatChoices");
      assertThat(chatChoices.get("texts").toString())
          .isEqualTo("{\"0\":\"c0t0 c0t1 \",\"1\":\"c1t0 c1t1 \"}");
      assertThat(chatChoices.get("finish").toString())
          .isEqualTo("{\"0\":\"length\",\"1\":\"length\"}");
      assertThat(chatChoices.get("usage").get("completion_tokens").asInt()).isEqualTo(4);
      JsonNode tooMany = out.get("tooManyChoices");
      assertThat(tooMany.get("thrown").asBoolean()).isTrue();
      assertThat(tooMany.get("status").asInt()).isEqualTo(400);
      assertThat(tooMany.get("param").asText()).isEqualTo("n");

      assertThat(out.get("models"))
          .extracting(JsonNode::asText)
          .contains(MODEL, MODEL + ":oai-own", MODEL + ":oai-public")
          .doesNotContain(MODEL + ":oai-theirs");

      JsonNode wrongKey = out.get("wrongKey");
      assertThat(wrongKey.get("thrown").asBoolean()).isTrue();
      assertThat(wrongKey.get("authenticationError").asBoolean()).isTrue();
      assertThat(wrongKey.get("status").asInt()).isEqualTo(401);
      assertThat(wrongKey.get("code").asText()).isEqualTo("invalid_api_key");

      JsonNode chatTop = out.get("chatTop").get("logprobs").get("content");
      assertThat(chatTop).hasSize(2);
      assertThat(chatTop.get(1).get("token").asText()).isEqualTo("t1 ");
      assertThat(chatTop.get(1).get("logprob").asDouble()).isEqualTo(-0.5);
      assertThat(chatTop.get(1).get("top_logprobs"))
          .extracting(t -> t.get("token").asText())
          .containsExactly("t1 ", "alt1", "alt2");
      assertThat(chatTop.get(1).get("top_logprobs").get(2).get("logprob").asDouble())
          .isEqualTo(-2.0);
      assertThat(chatTop.get(1).get("top_logprobs").get(1).get("bytes"))
          .extracting(JsonNode::asInt)
          .containsExactly((int) 'a', (int) 'l', (int) 't', (int) '1');
      var sampling = worker.generated.get(6).getSampling();
      assertThat(sampling.getPresencePenalty()).isEqualTo(0.5f);
      assertThat(sampling.getFrequencyPenalty()).isEqualTo(-0.25f);
      assertThat(sampling.getRepetitionPenalty()).isEqualTo(1.1f);
      assertThat(sampling.getLogitBiasMap())
          .containsExactlyInAnyOrderEntriesOf(Map.of(7, -100f, 12, 2f));
      assertThat(sampling.getMinTokens()).isEqualTo(1);
      assertThat(sampling.getStopTokenIdsList()).containsExactly(42);
      assertThat(sampling.getSeed()).isEqualTo(11L);
      assertThat(sampling.getTopLogprobs()).isEqualTo(3);

      // Completions: one object per token from text to logprob, the sampled token included.
      JsonNode completionTop = out.get("completionTop").get("logprobs");
      assertThat(completionTop.get("tokens"))
          .extracting(JsonNode::asText)
          .containsExactly("t0 ", "t1 ");
      assertThat(completionTop.get("top_logprobs").get(0).get("t0 ").asDouble()).isEqualTo(-0.25);
      assertThat(completionTop.get("top_logprobs").get(0).get("alt1").asDouble()).isEqualTo(-1.0);
      assertThat(completionTop.get("top_logprobs").get(0).size()).isEqualTo(2);
      assertThat(worker.generated.get(7).getSampling().getTopLogprobs()).isEqualTo(2);

      JsonNode streamed = out.get("chatTopStream");
      assertThat(streamed).hasSize(2);
      assertThat(streamed.get(0).get("top_logprobs"))
          .extracting(t -> t.get("token").asText())
          .containsExactly("t0 ", "alt1");

      JsonNode badPenalty = out.get("badPenalty");
      assertThat(badPenalty.get("thrown").asBoolean()).isTrue();
      assertThat(badPenalty.get("badRequest").asBoolean()).isTrue();
      assertThat(badPenalty.get("status").asInt()).isEqualTo(400);
      assertThat(badPenalty.get("param").asText()).isEqualTo("presence_penalty");

      // Nine generations, the refused n (no tokens) and the refused penalty metered, exactly as
      // gRPC meters them; the refused key is not.
      assertThat(ledger.pending() - spooledBefore).isEqualTo(11);
      assertThat(worker.generated).hasSize(9);
      assertThat(worker.generated.get(4).getSampling().getN()).isEqualTo(3);
      assertThat(worker.generated.get(1).getAdapter()).isEqualTo("oai-own");
      assertThat(worker.generated.get(1).getChat().getMessagesJson())
          .isEqualTo(
              "[{\"role\":\"system\",\"content\":\"Answer briefly.\"},"
                  + "{\"role\":\"user\",\"content\":\"Say something.\"}]");
      assertThat(worker.generated.get(0).getSampling().getStopList()).containsExactly("\n");
    } finally {
      registry.remove("oai-w1");
    }
  }

  /** Installs the pinned {@code openai} package once; returns its node_modules directory. */
  static Path installOpenAiClient() throws Exception {
    requireTool("node");
    requireTool("npm");
    Path modules = CLIENT_DIR.resolve("node_modules");
    Path installed = modules.resolve("openai").resolve("package.json");
    if (Files.exists(installed)
        && new ObjectMapper()
            .readTree(installed.toFile())
            .path("version")
            .asText()
            .equals(OPENAI_VERSION)) {
      return modules.toAbsolutePath();
    }
    Files.createDirectories(CLIENT_DIR);
    Process npm =
        new ProcessBuilder(
                "npm",
                "install",
                "--prefix",
                CLIENT_DIR.toString(),
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--loglevel=error",
                "openai@" + OPENAI_VERSION)
            .redirectErrorStream(true)
            .start();
    String log = new String(npm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!npm.waitFor(5, TimeUnit.MINUTES) || npm.exitValue() != 0) {
      fail(
          "npm install openai@"
              + OPENAI_VERSION
              + " failed (the npm registry must be"
              + " reachable):\n"
              + log);
    }
    return modules.toAbsolutePath();
  }

  private static void requireTool(String tool) throws InterruptedException {
    try {
      Process p = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        fail(tool + " --version failed");
      }
    } catch (IOException e) {
      fail(
          tool
              + " is not on the PATH: this test drives the gateway with the official openai"
              + " npm client and needs Node.js >= 20 and npm (Debian packages nodejs and npm)",
          e);
    }
  }

  private static JsonNode runClient(Path modules, Map<String, String> env) throws Exception {
    return runScript(SCRIPT, modules, env);
  }

  /** Runs a client script with {@code openai} from {@code modules}; parses what it printed. */
  static JsonNode runScript(Path script, Path modules, Map<String, String> env) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("node", script.toString());
    pb.environment().putAll(env);
    pb.environment().put("NODE_PATH", modules.toString());
    Path stderr = Files.createTempFile(CLIENT_DIR, "stderr", ".txt");
    pb.redirectError(stderr.toFile());
    Process node = pb.start();
    String stdout = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    boolean exited = node.waitFor(60, TimeUnit.SECONDS);
    String err = Files.readString(stderr);
    Files.delete(stderr);
    if (!exited) {
      node.destroyForcibly();
      fail("the openai client script did not finish within 60 s; stderr:\n" + err);
    }
    assertThat(node.exitValue()).as("openai client script failed; stderr:\n%s", err).isZero();
    return new ObjectMapper().readTree(stdout);
  }
}
