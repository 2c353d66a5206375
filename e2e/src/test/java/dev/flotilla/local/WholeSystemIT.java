package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flotilla.api.v1.AdapterInfo;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.ListModelsRequest;
import dev.flotilla.api.v1.ModelInfo;
import dev.flotilla.api.v1.SamplingParams;
import io.fabric8.kubernetes.api.model.Pod;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The whole system on this machine, nothing mocked: the in-memory API server, the operator and
 * the gateway as processes, a Kafka broker JVM, worker pods as processes running the native
 * engine, all started once (see {@link LocalSystem}) with {@code examples/} applied. Scenarios run
 * in order on the one system; each uses its own requests (ids {@code s<scenario>-...}) and, past
 * the examples, its own ModelDeployment.
 */
@ExtendWith(FailureDump.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WholeSystemIT {
  static final String MODEL = "tiny-llama";
  static final String MODEL_KEY = "default/tiny-llama";
  static final String ACME_ADAPTER = ModelAssets.ACME_ADAPTER;
  static final String GLOBEX_ADAPTER = ModelAssets.GLOBEX_ADAPTER;

  static LocalSystem system;
  /** Every request the suite made, for the usage check. */
  static final List<Generation> requests = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void startTheSystem() throws Exception {
    system = LocalSystem.start();
    // The gateway knows the tenants and adapters once its informers have synced.
    await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
      assertThat(adapters(LocalSystem.ACME_KEY, MODEL)).contains(ACME_ADAPTER);
      assertThat(adapters(LocalSystem.GLOBEX_KEY, MODEL)).contains(GLOBEX_ADAPTER);
    });
  }

  @AfterAll
  static void stopTheSystem() throws Exception {
    if (system != null) {
      system.close();
    }
  }

  @Test
  @Order(1)
  void aRequestToAModelAtZeroIsHeldWhileTheOperatorStartsAWorkerThenStreams() throws Exception {
    assertThat(system.workers(MODEL)).as("tiny-llama starts at minReplicas 0").isEmpty();

    Generation g = generate(LocalSystem.ACME_KEY, request("s1-cold", ACME_ADAPTER, "Once upon a time", 24)
        .toBuilder().setReportProgress(true).build()).await(180);

    assertThat(g.error()).as("%s", g).isNull();
    assertThat(g.progress()).as("HeldProgress while the worker starts").isNotEmpty();
    assertThat(g.progress().get(0).getPhase()).isEqualTo(HeldProgress.Phase.WAITING_FOR_WORKER);
    assertThat(g.tokenCount()).isPositive().isEqualTo(g.fin().getUsage().getCompletionTokens());
    assertThat(system.workers(MODEL)).singleElement()
        .satisfies(p -> assertThat(DeploymentController.isReady(p)).isTrue());
    long coldStartMs = g.timeToFirstTokenMillis();
    system.record("cold-start.txt", "tiny-llama first request to first token: " + coldStartMs + " ms");
    System.out.println("e2e: cold start (first request to first token) " + coldStartMs + " ms");
  }

  @Test
  @Order(2)
  void twoTenantsAdaptersShareOneBatchAndEachGetsWhatItWouldAlone() throws Exception {
    GenerateRequest acme = request("s2-acme", ACME_ADAPTER, "The support ticket says", 96);
    GenerateRequest globex = request("s2-globex", GLOBEX_ADAPTER, "SELECT name FROM", 96);
    Generation acmeAlone = generate(LocalSystem.ACME_KEY, acme.toBuilder().setRequestId("s2-acme-alone").build())
        .await(60);
    Generation globexAlone = generate(LocalSystem.GLOBEX_KEY,
        globex.toBuilder().setRequestId("s2-globex-alone").build()).await(60);
    assertThat(acmeAlone.error()).as("%s", acmeAlone).isNull();
    assertThat(globexAlone.error()).as("%s", globexAlone).isNull();

    Generation a = generate(LocalSystem.ACME_KEY, acme);
    Generation b = generate(LocalSystem.GLOBEX_KEY, globex);
    a.await(60);
    b.await(60);

    assertThat(a.error()).as("%s", a).isNull();
    assertThat(b.error()).as("%s", b).isNull();
    assertThat(a.tokenIds()).as("acme's output batched = alone").isEqualTo(acmeAlone.tokenIds());
    assertThat(a.text()).isEqualTo(acmeAlone.text());
    assertThat(b.tokenIds()).as("globex's output batched = alone").isEqualTo(globexAlone.tokenIds());
    assertThat(b.text()).isEqualTo(globexAlone.text());
    assertThat(a.tokenIds()).as("the adapters differ").isNotEqualTo(b.tokenIds());
    assertThat(a.firstTokenNanos()).as("the streams overlap in time").isLessThan(b.lastTokenNanos());
    assertThat(b.firstTokenNanos()).as("the streams overlap in time").isLessThan(a.lastTokenNanos());
    Pod worker = assertThat(system.workers(MODEL)).singleElement().actual();
    assertThat(gauge(system.workerMetrics(worker), "flotilla_worker_batch_size_max"))
        .as("the one worker ran both in one engine step").isGreaterThanOrEqualTo(2);
  }

  @Test
  @Order(3)
  void aTenantCannotUseAnotherTenantsPrivateAdapterNorSeeIt() throws Exception {
    Generation g = generate(LocalSystem.GLOBEX_KEY, request("s3-denied", ACME_ADAPTER, "Hello", 8)).await(30);

    assertThat(g.error()).isNotNull();
    assertThat(g.error().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(g.tokenCount()).isZero();
    assertThat(adapters(LocalSystem.GLOBEX_KEY, MODEL)).contains(GLOBEX_ADAPTER).doesNotContain(ACME_ADAPTER);
    assertThat(system.blocking(LocalSystem.GLOBEX_KEY).listModels(ListModelsRequest.getDefaultInstance())
        .getModelsList()).flatMap(ModelInfo::getAdaptersList).extracting(AdapterInfo::getName)
        .doesNotContain(ACME_ADAPTER);
  }

  @Test
  @Order(4)
  void usageEventsEqualWhatEachClientReceivedOncePerRequest() throws Exception {
    List<Generation> made = List.copyOf(requests);
    assertThat(made).allSatisfy(g -> assertThat(g.isDone()).isTrue());
    try (UsageTopic topic = new UsageTopic(system.local.kafka().bootstrapServers())) {
      await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
        topic.poll();
        assertThat(topic.byRequestId().keySet())
            .containsAll(made.stream().map(g -> g.request.getRequestId()).toList());
      });
      Map<String, List<JsonNode>> events = topic.byRequestId();
      assertThat(events).as("no request billed twice").allSatisfy((id, list) -> assertThat(list).hasSize(1));
      for (Generation g : made) {
        assertUsageMatches(events.get(g.request.getRequestId()).get(0), g);
      }
    }
  }

  // --- helpers ---

  /** The usage event of a request says what its client got. */
  static void assertUsageMatches(JsonNode event, Generation g) {
    String tenant = g.request.getAdapter().equals(GLOBEX_ADAPTER) || g.request.getRequestId().equals("s3-denied")
        ? "globex" : "acme";
    assertThat(event.path("tenant").asText()).as("tenant of %s", g).isEqualTo(tenant);
    assertThat(event.path("adapter").asText()).as("adapter of %s", g).isEqualTo(g.request.getAdapter());
    if (g.error() != null) {
      assertThat(event.path("status").asText()).as("status of %s", g).isEqualTo(g.error().getCode().name());
      assertThat(event.path("completionTokens").asInt()).as("completion tokens of %s", g).isEqualTo(g.tokenCount());
      return;
    }
    assertThat(event.path("model").asText()).as("model of %s", g).isEqualTo(MODEL_KEY);
    assertThat(event.path("status").asText()).as("status of %s", g).isEqualTo("OK");
    assertThat(event.path("promptTokens").asInt()).as("prompt tokens of %s", g)
        .isEqualTo(g.fin().getUsage().getPromptTokens()).isPositive();
    assertThat(event.path("completionTokens").asInt()).as("completion tokens of %s", g)
        .isEqualTo(g.fin().getUsage().getCompletionTokens()).isEqualTo(g.tokenCount());
  }

  static GenerateRequest request(String id, String adapter, String prompt, int maxTokens) {
    return GenerateRequest.newBuilder().setRequestId(id).setModel(MODEL).setAdapter(adapter).setPrompt(prompt)
        .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxTokens(maxTokens)).build();
  }

  static Generation generate(String apiKey, GenerateRequest request) {
    Generation g = Generation.start(system.async(apiKey), request);
    requests.add(g);
    return g;
  }

  static List<String> adapters(String apiKey, String model) {
    List<String> names = new ArrayList<>();
    for (ModelInfo m : system.blocking(apiKey).listModels(ListModelsRequest.getDefaultInstance()).getModelsList()) {
      if (m.getName().equals(model) || m.getName().endsWith("/" + model)) {
        m.getAdaptersList().forEach(a -> names.add(a.getName()));
      }
    }
    return names;
  }

  /** The value of an unlabelled sample in Prometheus text; fails when it is missing. */
  static double gauge(String metrics, String name) {
    return metrics.lines().filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).max()
        .orElseThrow(() -> new AssertionError(name + " not in the worker's metrics"));
  }
}
