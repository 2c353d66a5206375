package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.rpc.RetryInfo;
import dev.flotilla.api.crd.ConditionTypes;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.v1.AdapterInfo;
import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.ListModelsRequest;
import dev.flotilla.api.v1.ModelInfo;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.MutualTls;
import dev.flotilla.mtls.PeerPolicy;
import dev.flotilla.mtls.ReloadingCredentials;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The whole system on this machine, nothing mocked: the in-memory API server, the operator and the
 * gateway as processes, a Kafka broker JVM, worker pods as processes running the native engine, all
 * started once (see {@link LocalSystem}) with {@code examples/} applied. Scenarios run in order on
 * the one system; each uses its own requests (ids {@code s<scenario>-...}) and, past the examples,
 * its own ModelDeployment.
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
    assumeTrue(
        LocalSystem.workerHasEngine(),
        "the worker was built without its native engine (-Dnative.skip)");
    system = LocalSystem.start();
    system.addTestTenants();
    // The gateway knows the tenants and adapters once its informers have synced.
    await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(adapters(LocalSystem.ACME_KEY, MODEL)).contains(ACME_ADAPTER);
              assertThat(adapters(LocalSystem.GLOBEX_KEY, MODEL)).contains(GLOBEX_ADAPTER);
              system
                  .blocking(LocalSystem.E2E_KEY)
                  .listModels(ListModelsRequest.getDefaultInstance());
              system
                  .blocking(LocalSystem.TIGHT_KEY)
                  .listModels(ListModelsRequest.getDefaultInstance());
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

    Generation g =
        generate(
                LocalSystem.ACME_KEY,
                request("s1-cold", ACME_ADAPTER, "Once upon a time", 24).toBuilder()
                    .setReportProgress(true)
                    .build())
            .await(180);

    assertThat(g.error()).as("%s", g).isNull();
    assertThat(g.progress()).as("HeldProgress while the worker starts").isNotEmpty();
    assertThat(g.progress().get(0).getPhase()).isEqualTo(HeldProgress.Phase.WAITING_FOR_WORKER);
    assertThat(g.progress()).extracting(HeldProgress::getWaitedMs).isSorted();
    assertThat(g.tokenCount()).isPositive().isEqualTo(g.fin().getUsage().getCompletionTokens());
    assertThat(system.workers(MODEL))
        .singleElement()
        .satisfies(p -> assertThat(DeploymentController.isReady(p)).isTrue());
    long coldStartMs = g.timeToFirstTokenMillis();
    system.record(
        "cold-start.txt", "tiny-llama first request to first token: " + coldStartMs + " ms");
    System.out.println("e2e: cold start (first request to first token) " + coldStartMs + " ms");
  }

  @Test
  @Order(2)
  void twoTenantsAdaptersShareOneBatchAndEachGetsWhatItWouldAlone() throws Exception {
    GenerateRequest acme = request("s2-acme", ACME_ADAPTER, "The support ticket says", 96);
    GenerateRequest globex = request("s2-globex", GLOBEX_ADAPTER, "SELECT name FROM", 96);
    Generation acmeAlone =
        generate(LocalSystem.ACME_KEY, acme.toBuilder().setRequestId("s2-acme-alone").build())
            .await(60);
    Generation globexAlone =
        generate(LocalSystem.GLOBEX_KEY, globex.toBuilder().setRequestId("s2-globex-alone").build())
            .await(60);
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
    assertThat(b.tokenIds())
        .as("globex's output batched = alone")
        .isEqualTo(globexAlone.tokenIds());
    assertThat(b.text()).isEqualTo(globexAlone.text());
    assertThat(a.firstTokenNanos())
        .as("the streams overlap in time")
        .isLessThan(b.lastTokenNanos());
    assertThat(b.firstTokenNanos())
        .as("the streams overlap in time")
        .isLessThan(a.lastTokenNanos());
    Pod worker = assertThat(system.workers(MODEL)).singleElement().actual();
    assertThat(gauge(system.workerMetrics(worker), "flotilla_worker_batch_size_max"))
        .as("the one worker ran both in one engine step")
        .isGreaterThanOrEqualTo(2);
  }

  @Test
  @Order(3)
  void onlyTheGatewayReachesAWorkerAnyOtherCallerIsRefused() throws Exception {
    Pod worker = assertThat(system.workers(MODEL)).singleElement().actual();
    String address = LocalSystem.grpcAddress(worker);
    ManagedChannel noCertificate =
        Grpc.newChannelBuilder(address, InsecureChannelCredentials.create()).build();
    ManagedChannel gatewayCertificate =
        Grpc.newChannelBuilder(
                address,
                MutualTls.channelCredentials(
                    new ReloadingCredentials(system.gatewayCertificate(), Duration.ZERO),
                    PeerPolicy.exactly(Identities.workerOf(MODEL_KEY))))
            .build();
    try {
      WorkerGrpc.WorkerBlockingStub anyone =
          WorkerGrpc.newBlockingStub(noCertificate).withDeadlineAfter(10, TimeUnit.SECONDS);
      for (ThrowingCallable call :
          List.<ThrowingCallable>of(
              () -> anyone.stats(StatsRequest.newBuilder().setIntervalMs(100).build()).next(),
              () ->
                  anyone
                      .generate(
                          WorkerGenerateRequest.newBuilder()
                              .setRequestId("s3-direct")
                              .setPrompt("Hello")
                              .setSampling(SamplingParams.newBuilder().setMaxTokens(4))
                              .build())
                      .next(),
              () ->
                  anyone.loadAdapter(
                      LoadAdapterRequest.newBuilder()
                          .setName("stolen")
                          .setSource("file:///etc")
                          .build()))) {
        assertThatThrownBy(call)
            .isInstanceOfSatisfying(
                StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
      }

      assertThat(
              WorkerGrpc.newBlockingStub(gatewayCertificate)
                  .withDeadlineAfter(10, TimeUnit.SECONDS)
                  .stats(StatsRequest.newBuilder().setIntervalMs(100).build())
                  .next()
                  .getModel())
          .as("the gateway's own certificate is served on the same port")
          .isEqualTo(MODEL_KEY);
      Generation g =
          generate(LocalSystem.E2E_KEY, request("s3-through-gateway", "", "Hello", 8)).await(60);
      assertThat(g.error()).as("%s", g).isNull();
      assertThat(g.tokenCount()).isPositive();
    } finally {
      noCertificate.shutdownNow();
      gatewayCertificate.shutdownNow();
    }
  }

  @Test
  @Order(4)
  void aLabelledPodTheOperatorDidNotMakeGetsNoRequestsEvenWithTheWorkersCertificate()
      throws Exception {
    Pod worker = assertThat(system.workers(MODEL)).singleElement().actual();
    // A copy of the worker pod, label, image and mounted certificate included, that no
    // ReplicaSet of the operator's worker Deployment owns.
    Map<String, String> labels = new LinkedHashMap<>(worker.getMetadata().getLabels());
    labels.remove(DeploymentController.TEMPLATE_HASH_LABEL);
    Pod rogue =
        new PodBuilder()
            .withNewMetadata()
            .withNamespace("default")
            .withName("rogue-" + MODEL)
            .withLabels(labels)
            .endMetadata()
            .withSpec(worker.getSpec())
            .build();
    system.client().resource(rogue).create();
    try {
      await()
          .atMost(Duration.ofSeconds(120))
          .until(() -> DeploymentController.isReady(system.client().resource(rogue).get()));
      Pod running = system.client().resource(rogue).get();
      AtomicInteger round = new AtomicInteger();
      // Rounds of concurrent requests for five seconds, long enough for the gateway to see the
      // pod Ready and hear its Stats (every second) if it counted it as a worker; the pod the
      // operator did not make must generate nothing all along.
      await()
          .during(Duration.ofSeconds(5))
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofSeconds(1))
          .until(
              () -> {
                List<Generation> concurrent = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                  concurrent.add(
                      generate(
                          LocalSystem.E2E_KEY,
                          request("s4-" + round.incrementAndGet(), "", "Hello", 8)));
                }
                for (Generation g : concurrent) {
                  assertThat(g.await(60).error()).as("%s", g).isNull();
                }
                return gauge(
                        system.workerMetrics(running), "flotilla_worker_tokens_generated_total")
                    == 0;
              });
    } finally {
      system.client().resource(rogue).delete();
      await()
          .atMost(Duration.ofSeconds(150))
          .until(() -> system.client().resource(rogue).get() == null);
    }
  }

  @Test
  @Order(5)
  void aTenantCannotUseAnotherTenantsPrivateAdapterNorSeeIt() throws Exception {
    Generation g =
        generate(LocalSystem.GLOBEX_KEY, request("s3-denied", ACME_ADAPTER, "Hello", 8)).await(30);

    assertThat(g.error()).isNotNull();
    assertThat(g.error().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(g.tokenCount()).isZero();
    assertThat(adapters(LocalSystem.GLOBEX_KEY, MODEL))
        .contains(GLOBEX_ADAPTER)
        .doesNotContain(ACME_ADAPTER);
    assertThat(
            system
                .blocking(LocalSystem.GLOBEX_KEY)
                .listModels(ListModelsRequest.getDefaultInstance())
                .getModelsList())
        .flatMap(ModelInfo::getAdaptersList)
        .extracting(AdapterInfo::getName)
        .doesNotContain(ACME_ADAPTER);
  }

  @Test
  @Order(6)
  void usageEventsEqualWhatEachClientReceivedOncePerRequest() throws Exception {
    List<Generation> made = List.copyOf(requests);
    assertThat(made).allSatisfy(g -> assertThat(g.isDone()).isTrue());
    try (UsageTopic topic = new UsageTopic(system.local.kafka().bootstrapServers())) {
      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(
              () -> {
                topic.poll();
                assertThat(topic.byRequestId().keySet())
                    .containsAll(made.stream().map(g -> g.request.getRequestId()).toList());
              });
      Map<String, List<JsonNode>> events = topic.byRequestId();
      assertThat(events)
          .as("no request billed twice")
          .allSatisfy((id, list) -> assertThat(list).hasSize(1));
      for (Generation g : made) {
        assertUsageMatches(events.get(g.request.getRequestId()).get(0), g);
      }
    }
  }

  @Test
  @Order(7)
  void anIdleModelScalesToZeroAndWakesForTheNextRequest() throws Exception {
    system.applyModel(
        "e2e-idle",
        4,
        """
        minReplicas: 0
        maxReplicas: 1
        targetConcurrency: 4
        scaleToZeroAfter: 5s
        stableWindow: 6s
        panicWindow: 2s
        coldStartTimeout: 2m""",
        null);
    // The gateway knows a model once its informer has seen it, and answers NOT_FOUND before.
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(models(LocalSystem.E2E_KEY))
                    .anyMatch(m -> m.endsWith("/e2e-idle") || m.equals("e2e-idle")));
    Generation first =
        generate(
                LocalSystem.E2E_KEY,
                request("s5-first", "e2e-idle", "", "Good morning", 16).toBuilder()
                    .setReportProgress(true)
                    .build())
            .await(180);
    assertThat(first.error()).as("%s", first).isNull();
    assertThat(first.progress()).as("held while cold").isNotEmpty();
    assertThat(system.workers("e2e-idle")).hasSize(1);

    await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(
            () -> {
              assertThat(
                      system
                          .client()
                          .apps()
                          .deployments()
                          .inNamespace("default")
                          .withName("e2e-idle-worker")
                          .get()
                          .getSpec()
                          .getReplicas())
                  .isZero();
              assertThat(system.workers("e2e-idle")).as("worker pods gone").isEmpty();
              ModelDeployment md = model("e2e-idle");
              assertThat(md.getStatus().getReadyReplicas()).isZero();
              assertThat(md.getStatus().getConditions())
                  .anySatisfy(
                      c -> {
                        assertThat(c.getType()).isEqualTo(ConditionTypes.SCALED_TO_ZERO);
                        assertThat(c.getStatus()).isEqualTo(ConditionTypes.TRUE);
                      });
            });

    Generation again =
        generate(
                LocalSystem.E2E_KEY,
                request("s5-again", "e2e-idle", "", "Good morning", 16).toBuilder()
                    .setReportProgress(true)
                    .build())
            .await(180);
    assertThat(again.error()).as("%s", again).isNull();
    assertThat(again.progress()).as("held while cold again").isNotEmpty();
    assertThat(again.tokenIds())
        .as("the same greedy answer from the new worker")
        .isEqualTo(first.tokenIds());
    system.record(
        "cold-start.txt",
        "e2e-idle woken from zero, first request to first token: "
            + again.timeToFirstTokenMillis()
            + " ms");
  }

  @Test
  @Order(8)
  void aTenantOverItsRateLimitIsToldWhenToRetryAndIsServedThen() throws Exception {
    Generation first = generate(LocalSystem.TIGHT_KEY, request("s6-first", "", "Hi", 4)).await(60);
    Generation second =
        generate(LocalSystem.TIGHT_KEY, request("s6-second", "", "Hi", 4)).await(60);
    assertThat(first.error()).as("%s", first).isNull();
    assertThat(second.error()).as("%s", second).isNotNull();
    assertThat(second.error().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    RetryInfo retry =
        second
            .retryInfo()
            .orElseThrow(() -> new AssertionError("no RetryInfo in " + second.error()));
    long delayMs =
        retry.getRetryDelay().getSeconds() * 1000 + retry.getRetryDelay().getNanos() / 1_000_000;
    assertThat(delayMs).isPositive().isLessThanOrEqualTo(5_000);

    Thread.sleep(delayMs); // what a client does with RetryInfo
    Generation retried =
        generate(LocalSystem.TIGHT_KEY, request("s6-retried", "", "Hi", 4)).await(60);
    assertThat(retried.error()).as("%s", retried).isNull();
    assertThat(retried.tokenIds()).isEqualTo(first.tokenIds());
  }

  @Test
  @Order(9)
  void aKilledWorkerAbortsOnlyStreamsThatHadTokensTheRestCompleteElsewhereAndItComesBack()
      throws Exception {
    system.applyModel(
        "e2e-failover",
        4,
        """
        minReplicas: 0
        maxReplicas: 2
        coldStartTimeout: 2m""",
        2);
    awaitReadyWorkers("e2e-failover", 2);
    List<String> prompts = List.of("The river", "In the year", "A robot", "Listen");

    // Two workers with four batch slots each. Four requests stream, two on each worker; then the
    // victim is frozen (SIGSTOP) so that the next four, two of which the gateway sends to it, get
    // no token there; then it is killed.
    List<Generation> load = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      load.add(
          generate(
              LocalSystem.E2E_KEY,
              request("s7-load-" + i, "e2e-failover", "", prompts.get(i), FAILOVER_TOKENS)));
    }
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(5))
        .until(() -> load.stream().allMatch(g -> g.tokenCount() > 0));
    Pod victim = system.workers("e2e-failover").get(0);
    ProcessSupervisor.Child victimProcess = system.process(victim);
    LocalSystem.signal(victimProcess, "STOP");
    List<Generation> late = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      late.add(
          generate(
              LocalSystem.E2E_KEY,
              request("s7-late-" + i, "e2e-failover", "", prompts.get(i), FAILOVER_TOKENS)));
    }
    load.addAll(late);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(5))
        .until(() -> late.stream().filter(g -> g.tokenCount() > 0).count() >= 2);
    Map<Generation, Integer> tokensAtKill = new LinkedHashMap<>();
    load.forEach(g -> tokensAtKill.put(g, g.tokenCount()));
    system.local.supervisor().kill(victimProcess);
    assertThat(tokensAtKill.values()).as("requests waiting on the frozen worker").contains(0);

    for (Generation g : load) {
      g.await(90);
    }
    // Each prompt's answer alone, asked only now (greedy, so any worker gives it): asked first,
    // it would make one worker hold every prompt's prefix, and prefix-aware routing would send
    // the load there instead of across both workers.
    Map<String, List<Integer>> reference = new LinkedHashMap<>();
    for (String prompt : prompts) {
      Generation alone =
          generate(
                  LocalSystem.E2E_KEY,
                  request(
                      "s7-ref-" + reference.size(), "e2e-failover", "", prompt, FAILOVER_TOKENS))
              .await(60);
      assertThat(alone.error()).as("%s", alone).isNull();
      reference.put(prompt, alone.tokenIds());
    }
    List<Generation> aborted = load.stream().filter(g -> g.error() != null).toList();
    assertThat(aborted).as("the streams the killed worker had started").isNotEmpty();
    for (Generation g : load) {
      List<Integer> expected = reference.get(g.request.getPrompt());
      if (g.error() == null) {
        assertThat(g.tokenIds()).as("%s: the whole answer, no token twice", g).isEqualTo(expected);
        assertThat(g.fin().getUsage().getCompletionTokens()).isEqualTo(expected.size());
      } else {
        assertThat(g.error().getCode()).as("%s", g).isEqualTo(Status.Code.ABORTED);
        assertThat(g.tokenCount()).as("%s: aborted only after tokens", g).isPositive();
        assertThat(expected)
            .as("%s: what it got is a prefix of the answer", g)
            .startsWith(g.tokenIds().toArray(Integer[]::new));
      }
      if (tokensAtKill.get(g) == 0) {
        assertThat(g.error())
            .as("%s had no token when the worker died: retried elsewhere", g)
            .isNull();
      }
    }

    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(pod(victim.getMetadata().getName()))
                    .satisfies(
                        p -> {
                          assertThat(p.getStatus().getContainerStatuses().get(0).getRestartCount())
                              .isEqualTo(1);
                          assertThat(DeploymentController.isReady(p)).isTrue();
                        }));
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              List<Generation> more = new ArrayList<>();
              for (int i = 0; i < 4; i++) {
                more.add(
                    generate(
                        LocalSystem.E2E_KEY,
                        request(
                            "s7-after-" + requests.size(), "e2e-failover", "", prompts.get(i), 8)));
              }
              for (Generation g : more) {
                assertThat(g.await(60).error()).as("%s", g).isNull();
              }
              assertThat(
                      gauge(
                          system.workerMetrics(pod(victim.getMetadata().getName())),
                          "flotilla_worker_tokens_generated_total"))
                  .as("the restarted worker serves")
                  .isPositive();
            });
  }

  @Test
  @Order(10)
  void anOperatorKilledMidScaleConvergesWithNoDuplicateObjects() throws Exception {
    awaitReadyWorkers("e2e-failover", 2);
    // Down: killed right after the change, before it acted on it.
    setReplicas("e2e-failover", 1);
    system.local.kill("operator");
    system.local.startQuarkus("operator");
    awaitConverged("e2e-failover", 1);
    // Up: killed once it scaled the Deployment, while the new worker is still starting.
    setReplicas("e2e-failover", 2);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                system
                        .client()
                        .apps()
                        .deployments()
                        .inNamespace("default")
                        .withName("e2e-failover-worker")
                        .get()
                        .getSpec()
                        .getReplicas()
                    == 2);
    system.local.kill("operator");
    system.local.startQuarkus("operator");
    awaitConverged("e2e-failover", 2);

    for (String name : List.of(MODEL, "e2e-idle", "e2e-failover")) {
      assertThat(
              system
                  .client()
                  .apps()
                  .deployments()
                  .inNamespace("default")
                  .withLabel("flotilla.dev/model", name)
                  .list()
                  .getItems())
          .as("Deployments of %s", name)
          .hasSize(1);
      assertThat(
              system
                  .client()
                  .services()
                  .inNamespace("default")
                  .withLabel("flotilla.dev/model", name)
                  .list()
                  .getItems())
          .as("Services of %s", name)
          .hasSize(1);
    }
  }

  @Test
  @Order(11)
  void anAdapterStaysOnOneWorkerAndUsageSurvivesAKafkaOutage() throws Exception {
    awaitReadyWorkers("e2e-failover", 2);
    system.apply(
        """
        apiVersion: flotilla.dev/v1alpha1
        kind: LoraAdapter
        metadata:
          name: e2e-sticky
          namespace: default
        spec:
          modelDeployment: e2e-failover
          source: file://%s
          tenant: e2e
          visibility: Private
          rank: 8
          targetModules: [q_proj, k_proj, v_proj, o_proj]
        """
            .formatted(system.local.assets().acmeAdapter()));
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> assertThat(adapters(LocalSystem.E2E_KEY, "e2e-failover")).contains("e2e-sticky"));
    for (int i = 0; i < 6; i++) {
      Generation g =
          generate(
                  LocalSystem.E2E_KEY,
                  request("s9-sticky-" + i, "e2e-failover", "e2e-sticky", "Dear customer", 8))
              .await(60);
      assertThat(g.error()).as("%s", g).isNull();
    }
    List<Double> loads = new ArrayList<>();
    for (Pod worker : system.workers("e2e-failover")) {
      loads.add(
          counter(
              system.workerMetrics(worker), "flotilla_worker_adapter_loads_total{result=\"ok\""));
    }
    assertThat(loads).as("adapter loads per worker").containsExactlyInAnyOrder(1.0, 0.0);

    system.local.stopKafka();
    List<Generation> duringOutage = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Generation g =
          generate(
                  LocalSystem.E2E_KEY,
                  request("s9-outage-" + i, "e2e-failover", "", "While Kafka sleeps", 8 + i))
              .await(60);
      assertThat(g.error()).as("%s", g).isNull();
      duringOutage.add(g);
    }
    assertThat(gauge(system.gatewayMetrics(), "flotilla_gateway_usage_spool_depth"))
        .as("the outage's events wait in the gateway's spool")
        .isGreaterThanOrEqualTo(duringOutage.size());
    system.local.restartKafka();
    try (UsageTopic topic = new UsageTopic(system.local.kafka().bootstrapServers())) {
      List<String> ids = duringOutage.stream().map(g -> g.request.getRequestId()).toList();
      await()
          .atMost(Duration.ofSeconds(120))
          .untilAsserted(
              () -> {
                topic.poll();
                assertThat(topic.byRequestId().keySet()).containsAll(ids);
              });
      topic.poll();
      Map<String, List<JsonNode>> events = topic.byRequestId();
      assertThat(events)
          .as("no request billed twice")
          .allSatisfy((id, list) -> assertThat(list).hasSize(1));
      for (Generation g : requests) {
        if (g.isDone() && events.containsKey(g.request.getRequestId())) {
          assertUsageMatches(events.get(g.request.getRequestId()).get(0), g);
        }
      }
      for (Generation g : duringOutage) {
        assertUsageMatches(events.get(g.request.getRequestId()).get(0), g);
      }
    }
  }

  @Test
  @Order(12)
  void aGatewayReplacedDuringAKafkaOutageLeavesEveryEventToItsSuccessorEachBilledOnce()
      throws Exception {
    awaitReadyWorkers("e2e-failover", 2);
    system.local.stopKafka();
    // 1,000 requests under 500 client request ids, each id sent twice: billing must count both.
    int requests = 1000;
    int window = 50;
    List<Generation> outage = new ArrayList<>();
    for (int start = 0; start < requests; start += window) {
      List<Generation> batch = new ArrayList<>();
      for (int i = start; i < start + window; i++) {
        batch.add(
            Generation.start(
                "e2e",
                system.async(LocalSystem.E2E_KEY),
                request("s12-" + i % (requests / 2), "e2e-failover", "", "Bill me once", 1)));
      }
      for (Generation g : batch) {
        outage.add(g.await(60));
      }
    }
    assertThat(outage).allSatisfy(g -> assertThat(g.isDone()).as("%s", g).isTrue());
    assertThat(gauge(system.gatewayMetrics(), "flotilla_gateway_usage_spool_depth"))
        .as("the outage's events wait in the gateway's spool")
        .isGreaterThanOrEqualTo(requests);

    // A crash, and a new gateway on the same spool volume, before Kafka is back.
    system.local.kill("gateway");
    system.local.startQuarkus("gateway");
    system.local.restartKafka();

    try (UsageTopic topic = new UsageTopic(system.local.kafka().bootstrapServers())) {
      await()
          .atMost(Duration.ofSeconds(120))
          .untilAsserted(
              () ->
                  assertThat(eventsOf(topic.poll(), "s12-").keySet())
                      .as("distinct event ids of the outage's requests")
                      .hasSize(requests));
      Map<String, JsonNode> byEventId = eventsOf(topic.poll(), "s12-");
      Map<String, List<JsonNode>> byRequestId = new LinkedHashMap<>();
      for (JsonNode e : byEventId.values()) {
        assertThat(e.path("schemaVersion").asInt()).isEqualTo(2);
        byRequestId.computeIfAbsent(e.path("requestId").asText(), k -> new ArrayList<>()).add(e);
      }
      assertThat(byRequestId)
          .as("each client request id was sent twice and is billed twice after deduplication")
          .hasSize(requests / 2)
          .allSatisfy((id, events) -> assertThat(events).hasSize(2));
      for (Generation g : outage) {
        assertThat(byRequestId.get(g.request.getRequestId()))
            .anySatisfy(e -> assertUsageMatches(e, g));
      }
    }
  }

  /** The events whose request id starts with {@code prefix}, deduplicated by event id. */
  static Map<String, JsonNode> eventsOf(List<JsonNode> events, String prefix) {
    Map<String, JsonNode> out = new LinkedHashMap<>();
    for (JsonNode e : events) {
      if (e.path("requestId").asText().startsWith(prefix)) {
        out.putIfAbsent(e.path("eventId").asText(), e);
      }
    }
    return out;
  }

  // --- helpers ---

  static final int FAILOVER_TOKENS = 300;

  @Test
  @Order(13)
  void chatIsRenderedWithTheTemplateTheModelShips() throws Exception {
    String messages =
        "[{\"role\": \"system\", \"content\": \"Be brief.\"},"
            + " {\"role\": \"user\", \"content\": \"Tell me a story.\"}]";
    GenerateRequest chat =
        request("s13-chat", "", "x", 12).toBuilder()
            .setChat(ChatInput.newBuilder().setMessagesJson(messages).setAddGenerationPrompt(true))
            .build();
    // The tiny model's tokenizer_config.json template writes "<s>" itself; a text prompt gets its
    // BOS from the tokenizer, so this prompt is the same token sequence.
    GenerateRequest same =
        request(
            "s13-text",
            "",
            "<|system|>\nBe brief.</s>\n<|user|>\nTell me a story.</s>\n<|assistant|>\n",
            12);
    Generation viaChat = generate(LocalSystem.ACME_KEY, chat).await(180);
    Generation viaText = generate(LocalSystem.ACME_KEY, same).await(60);
    assertThat(viaChat.error()).as("%s", viaChat).isNull();
    assertThat(viaChat.fin().getUsage().getPromptTokens())
        .isEqualTo(viaText.fin().getUsage().getPromptTokens());
    assertThat(viaChat.text()).isNotEmpty().isEqualTo(viaText.text());

    // The same conversation through the OpenAI API.
    String body =
        "{\"model\": \""
            + MODEL
            + "\", \"messages\": "
            + messages
            + ", \"max_tokens\": 12, \"temperature\": 0}";
    java.net.http.HttpResponse<String> response =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:"
                                + system.local.settings().gatewayHttpPort()
                                + "/v1/chat/completions"))
                    .header("Authorization", "Bearer " + LocalSystem.ACME_KEY)
                    .header("Content-Type", "application/json")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode answer = new com.fasterxml.jackson.databind.ObjectMapper().readTree(response.body());
    assertThat(answer.path("choices").path(0).path("message").path("content").asText())
        .isEqualTo(viaText.text());
  }

  @Test
  @Order(14)
  void embeddingsThroughTheOpenAiApiAreMeteredInTheUsageEvents() throws Exception {
    // The tiny model with the sentence-transformers files of an embedding model: mean pooling,
    // normalised.
    java.nio.file.Path source = system.local.assets().model();
    java.nio.file.Path embedder = java.nio.file.Files.createTempDirectory("e2e-embed-model");
    try (var files = java.nio.file.Files.walk(source)) {
      for (java.nio.file.Path f : files.toList()) {
        java.nio.file.Path to = embedder.resolve(source.relativize(f).toString());
        if (java.nio.file.Files.isDirectory(f)) {
          java.nio.file.Files.createDirectories(to);
        } else {
          java.nio.file.Files.copy(f, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
    com.fasterxml.jackson.databind.ObjectMapper json =
        new com.fasterxml.jackson.databind.ObjectMapper();
    int hidden =
        json.readTree(embedder.resolve("config.json").toFile()).path("hidden_size").asInt();
    dev.flotilla.testkit.SentenceTransformersFiles.write(
        embedder, hidden, dev.flotilla.testkit.SentenceTransformersFiles.Pooling.MEAN_TOKENS, true);
    system.applyModel("e2e-embed", embedder, 4, "minReplicas: 1\nmaxReplicas: 1", 1);
    awaitReadyWorkers("e2e-embed", 1);

    java.net.http.HttpResponse<String> response =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:"
                                + system.local.settings().gatewayHttpPort()
                                + "/v1/embeddings"))
                    .header("Authorization", "Bearer " + LocalSystem.E2E_KEY)
                    .header("Content-Type", "application/json")
                    .header("X-Request-Id", "s14-embed")
                    .POST(
                        java.net.http.HttpRequest.BodyPublishers.ofString(
                            "{\"model\": \"e2e-embed\", \"input\": [\"The river\", \"A robot"
                                + " walks\"]}"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode answer = json.readTree(response.body());
    JsonNode data = answer.path("data");
    assertThat(data).hasSize(2);
    for (int i = 0; i < 2; i++) {
      JsonNode vector = data.get(i).path("embedding");
      assertThat(data.get(i).path("index").asInt()).isEqualTo(i);
      assertThat(vector).hasSize(hidden);
      double norm = 0;
      for (JsonNode v : vector) {
        norm += v.asDouble() * v.asDouble();
      }
      assertThat(Math.sqrt(norm))
          .as("normalised")
          .isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-3));
    }
    assertThat(data.get(0).path("embedding")).isNotEqualTo(data.get(1).path("embedding"));
    int promptTokens = answer.path("usage").path("prompt_tokens").asInt();
    assertThat(promptTokens).isPositive();

    try (UsageTopic topic = new UsageTopic(system.local.kafka().bootstrapServers())) {
      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(() -> assertThat(eventsOf(topic.poll(), "s14-")).hasSize(1));
      JsonNode event = eventsOf(topic.poll(), "s14-").values().iterator().next();
      assertThat(event.path("requestId").asText()).isEqualTo("s14-embed");
      assertThat(event.path("tenant").asText()).isEqualTo("e2e");
      assertThat(event.path("model").asText()).isEqualTo("default/e2e-embed");
      assertThat(event.path("status").asText()).isEqualTo("OK");
      assertThat(event.path("promptTokens").asInt()).isEqualTo(promptTokens);
      assertThat(event.path("completionTokens").asInt()).isZero();
    }
  }

  static void awaitReadyWorkers(String model, int count) {
    await()
        .atMost(Duration.ofSeconds(120))
        .untilAsserted(
            () -> {
              List<Pod> pods = system.workers(model);
              assertThat(pods)
                  .as("worker pods of %s", model)
                  .hasSize(count)
                  .allSatisfy(p -> assertThat(DeploymentController.isReady(p)).isTrue());
              assertThat(
                      system
                          .blocking(LocalSystem.E2E_KEY)
                          .listModels(ListModelsRequest.getDefaultInstance())
                          .getModelsList())
                  .filteredOn(m -> m.getName().equals(model) || m.getName().endsWith("/" + model))
                  .singleElement()
                  .satisfies(m -> assertThat(m.getReadyReplicas()).isEqualTo(count));
            });
  }

  static void setReplicas(String model, int replicas) {
    system
        .client()
        .resources(ModelDeployment.class)
        .inNamespace("default")
        .withName(model)
        .edit(
            md -> {
              md.getSpec().setReplicas(replicas);
              return md;
            });
  }

  /** The workers run and the status says so, for the latest spec. */
  static void awaitConverged(String model, int replicas) {
    awaitReadyWorkers(model, replicas);
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              ModelDeployment md = model(model);
              assertThat(md.getStatus().getObservedGeneration())
                  .isEqualTo(md.getMetadata().getGeneration());
              assertThat(md.getStatus().getReplicas()).isEqualTo(replicas);
              assertThat(md.getStatus().getReadyReplicas()).isEqualTo(replicas);
            });
  }

  static ModelDeployment model(String name) {
    return system
        .client()
        .resources(ModelDeployment.class)
        .inNamespace("default")
        .withName(name)
        .get();
  }

  static Pod pod(String name) {
    return system.client().pods().inNamespace("default").withName(name).get();
  }

  /** The value of a sample whose name and labels start with {@code prefix}; 0 when absent. */
  static double counter(String metrics, String prefix) {
    return metrics
        .lines()
        .filter(l -> l.startsWith(prefix))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }

  /** The usage event of a request says what its client got. */
  static void assertUsageMatches(JsonNode event, Generation g) {
    assertThat(event.path("tenant").asText()).as("tenant of %s", g).isEqualTo(g.tenant);
    assertThat(event.path("adapter").asText())
        .as("adapter of %s", g)
        .isEqualTo(g.request.getAdapter());
    assertThat(event.path("completionTokens").asInt())
        .as("completion tokens of %s", g)
        .isEqualTo(g.tokenCount());
    if (g.error() != null) {
      assertThat(event.path("status").asText())
          .as("status of %s", g)
          .isEqualTo(g.error().getCode().name());
      return;
    }
    assertThat(event.path("model").asText())
        .as("model of %s", g)
        .isEqualTo("default/" + g.request.getModel());
    assertThat(event.path("status").asText()).as("status of %s", g).isEqualTo("OK");
    assertThat(event.path("promptTokens").asInt())
        .as("prompt tokens of %s", g)
        .isEqualTo(g.fin().getUsage().getPromptTokens())
        .isPositive();
    assertThat(event.path("completionTokens").asInt())
        .as("completion tokens of %s", g)
        .isEqualTo(g.fin().getUsage().getCompletionTokens());
  }

  static GenerateRequest request(String id, String adapter, String prompt, int maxTokens) {
    return request(id, MODEL, adapter, prompt, maxTokens);
  }

  static GenerateRequest request(
      String id, String model, String adapter, String prompt, int maxTokens) {
    return GenerateRequest.newBuilder()
        .setRequestId(id)
        .setModel(model)
        .setAdapter(adapter)
        .setPrompt(prompt)
        .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxTokens(maxTokens))
        .build();
  }

  static Generation generate(String apiKey, GenerateRequest request) {
    Generation g = Generation.start(LocalSystem.tenantOf(apiKey), system.async(apiKey), request);
    requests.add(g);
    return g;
  }

  static List<String> models(String apiKey) {
    return system
        .blocking(apiKey)
        .listModels(ListModelsRequest.getDefaultInstance())
        .getModelsList()
        .stream()
        .map(ModelInfo::getName)
        .toList();
  }

  static List<String> adapters(String apiKey, String model) {
    List<String> names = new ArrayList<>();
    for (ModelInfo m :
        system
            .blocking(apiKey)
            .listModels(ListModelsRequest.getDefaultInstance())
            .getModelsList()) {
      if (m.getName().equals(model) || m.getName().endsWith("/" + model)) {
        m.getAdaptersList().forEach(a -> names.add(a.getName()));
      }
    }
    return names;
  }

  /** The value of an unlabelled sample in Prometheus text; fails when it is missing. */
  static double gauge(String metrics, String name) {
    return metrics
        .lines()
        .filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .max()
        .orElseThrow(() -> new AssertionError(name + " not in the metrics"));
  }
}
