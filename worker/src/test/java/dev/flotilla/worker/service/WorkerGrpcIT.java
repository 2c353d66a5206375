package dev.flotilla.worker.service;

import static dev.flotilla.worker.InProcessWorker.finishedWith;
import static dev.flotilla.worker.InProcessWorker.greedy;
import static dev.flotilla.worker.InProcessWorker.prompt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.LoadAdapterResponse;
import dev.flotilla.api.worker.v1.UnloadAdapterRequest;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.testkit.ReferenceModel;
import dev.flotilla.testkit.TokenizerFiles;
import dev.flotilla.worker.InProcessWorker;
import dev.flotilla.worker.InProcessWorker.Result;
import dev.flotilla.worker.TestFetchers;
import dev.flotilla.worker.TestModels;
import dev.flotilla.worker.config.WorkerSettings;
import dev.flotilla.worker.fetch.FakeHub;
import dev.flotilla.worker.scheduler.ChoiceSeeds;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker's gRPC service on the tiny generated model, in process, through the real engine:
 * streaming, exact greedy output, continuous batching across adapters, adapter eviction, KV
 * exhaustion, cancellation, draining and bad input.
 */
class WorkerGrpcIT {
  static InProcessWorker worker;

  /** Outputs of requests run alone on the shared worker, by request. */
  static final Map<WorkerGenerateRequest, List<Integer>> ALONE = new HashMap<>();

  static FakeHub hub;
  static Path cache;

  @BeforeAll
  static void start() throws Exception {
    TestModels.ensure(); // the hub serves lora-5's files, read before the worker writes them
    hub = new FakeHub();
    hub.repo = "org/lora-5";
    for (String f : List.of("adapter_config.json", "adapter_model.safetensors")) {
      hub.files.put(f, Files.readAllBytes(TestModels.ADAPTERS.get("lora-5").resolve(f)));
    }
    cache = Files.createTempDirectory("flotilla-cache");
    worker = InProcessWorker.start(TestFetchers.hub(hub.endpoint(), cache));
  }

  @AfterAll
  static void stop() throws Exception {
    worker.close();
    hub.close();
  }

  static synchronized List<Integer> alone(WorkerGenerateRequest request) {
    return ALONE.computeIfAbsent(
        request,
        r -> {
          Result result = worker.generate(r);
          assertThat(result.ok()).as("alone: %s", result.error()).isTrue();
          return result.tokens();
        });
  }

  /** 32 requests over 8 adapters (every fourth on the base model too), prompts of 3..60 tokens. */
  static List<WorkerGenerateRequest> mixedRequests(int n) {
    List<WorkerGenerateRequest> requests = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String adapter = i % 9 == 8 ? null : "lora-" + (i % 8);
      requests.add(greedy(adapter, prompt(3 + (i * 7) % 58, i), 6 + i % 11));
    }
    return requests;
  }

  static List<Result> concurrently(InProcessWorker w, List<WorkerGenerateRequest> requests) {
    List<CompletableFuture<Result>> futures = requests.stream().map(w::generateAsync).toList();
    return futures.stream().map(f -> f.orTimeout(120, TimeUnit.SECONDS).join()).toList();
  }

  @Test
  void streamsTextAndTokenIdsThenAFinalWithUsageAndTimings() {
    WorkerGenerateRequest request =
        WorkerGenerateRequest.newBuilder()
            .setRequestId("stream")
            .setPrompt("the quick brown fox")
            .setSampling(SamplingParams.newBuilder().setMaxTokens(12))
            .build();
    Result r = worker.generate(request);
    assertThat(r.error()).isNull();
    assertThat(r.tokens()).hasSize(12);
    assertThat(r.chunks()).as("tokens are streamed as they come").isGreaterThan(1);
    assertThat(r.fin().getFinishReason()).isEqualTo(FinishReason.LENGTH);
    int promptTokens = worker.runtime.tokenizer().encode("the quick brown fox").length;
    assertThat(r.fin().getUsage().getPromptTokens()).isEqualTo(promptTokens);
    assertThat(r.announcedPromptTokens())
        .as("the first tokens message announces the prompt length")
        .isEqualTo(promptTokens);
    assertThat(r.fin().getUsage().getCompletionTokens()).isEqualTo(12);
    assertThat(r.fin().getUsage().getTotalTokens()).isEqualTo(promptTokens + 12);
    assertThat(r.fin().getTotalMs()).isGreaterThanOrEqualTo(r.fin().getTimeToFirstTokenMs());
    assertThat(r.fin().getTimeBetweenTokensMs()).isGreaterThanOrEqualTo(0);
    assertThat(r.fin().getPreemptions()).isZero();
    int[] ids = r.tokens().stream().mapToInt(Integer::intValue).toArray();
    assertThat(r.text()).isEqualTo(worker.runtime.tokenizer().decode(ids, 0, ids.length));
  }

  @Test
  void chatIsRenderedWithTheModelsTemplateAndTokenizedWithItsOwnBos() {
    WorkerGenerateRequest chat =
        WorkerGenerateRequest.newBuilder()
            .setRequestId("chat")
            .setChat(
                ChatInput.newBuilder()
                    .setMessagesJson(
                        "[{\"role\": \"system\", \"content\": \"Be brief.\"},"
                            + " {\"role\": \"user\", \"content\": \"hello there\"}]")
                    .setAddGenerationPrompt(true))
            .setSampling(SamplingParams.newBuilder().setMaxTokens(6))
            .build();
    // The tiny model's tokenizer_config.json template (testkit TokenizerFiles), BOS included.
    int[] rendered =
        worker
            .runtime
            .tokenizer()
            .encode(
                "<s><|system|>\nBe brief.</s>\n<|user|>\nhello there</s>\n<|assistant|>\n", false);
    assertThat(rendered[0]).isEqualTo(TokenizerFiles.BOS_ID);
    assertThat(rendered[1]).as("one BOS, from the template").isNotEqualTo(TokenizerFiles.BOS_ID);
    Result viaChat = worker.generate(chat);
    Result viaIds =
        worker.generate(
            chat.toBuilder()
                .setPromptTokenIds(
                    TokenIds.newBuilder()
                        .addAllIds(java.util.Arrays.stream(rendered).boxed().toList()))
                .build());
    assertThat(viaChat.error()).isNull();
    assertThat(viaChat.fin().getUsage().getPromptTokens()).isEqualTo(rendered.length);
    assertThat(viaChat.tokens()).isEqualTo(viaIds.tokens()).hasSize(6);

    Result malformed =
        worker.generate(
            chat.toBuilder().setChat(ChatInput.newBuilder().setMessagesJson("[{")).build());
    assertThat(malformed.error().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(malformed.error().getDescription()).startsWith("messages is not valid JSON");
  }

  @Test
  void aModelWithoutAChatTemplateRefusesChatButServesPrompts(@TempDir Path dir) throws Exception {
    Path model = TestModels.ensure();
    try (var files = Files.list(model)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        if (Files.isRegularFile(f)) {
          Files.copy(f, dir.resolve(f.getFileName()));
        }
      }
    }
    ObjectMapper json = new ObjectMapper();
    ObjectNode config = (ObjectNode) json.readTree(dir.resolve("tokenizer_config.json").toFile());
    config.remove("chat_template");
    json.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
    try (InProcessWorker bare =
        new InProcessWorker(
            WorkerSettings.forModel(dir)
                .withModelName("no-template")
                .withKvCacheBytes(16L << 20)
                .withThreads(1))) {
      Result chat =
          bare.generate(
              WorkerGenerateRequest.newBuilder()
                  .setChat(
                      ChatInput.newBuilder()
                          .setMessagesJson("[{\"role\": \"user\", \"content\": \"hi\"}]"))
                  .build());
      assertThat(chat.error().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(chat.error().getDescription())
          .isEqualTo(
              "model no-template has no chat template (no chat_template in its"
                  + " tokenizer_config.json and no chat_template.jinja); send a prompt to the"
                  + " completions API instead");
      assertThat(bare.generate(greedy(null, prompt(4, 1), 2)).error()).isNull();
    }
  }

  @Test
  void greedyOutputEqualsTheReferenceModelExactly() throws Exception {
    ReferenceModel reference = ReferenceModel.load(TestModels.MODEL);
    int[] promptIds = {256, 116, 104, 101, 32, 113, 117, 105};
    List<Integer> prompt = Arrays.stream(promptIds).boxed().toList();
    int[] expected = reference.greedy(promptIds, 10);
    assertThat(worker.generate(greedy(null, prompt, 10)).tokens())
        .containsExactlyElementsOf(Arrays.stream(expected).boxed().toList());

    int[] withAdapter =
        reference.withAdapter(TestModels.ADAPTERS.get("lora-2")).greedy(promptIds, 10);
    assertThat(worker.generate(greedy("lora-2", prompt, 10)).tokens())
        .containsExactlyElementsOf(Arrays.stream(withAdapter).boxed().toList());
  }

  @Test
  void thirtyTwoConcurrentRequestsAcrossEightAdaptersEachMatchTheirSoloRun() {
    List<WorkerGenerateRequest> requests = mixedRequests(32);
    requests.forEach(WorkerGrpcIT::alone);
    List<Result> results = concurrently(worker, requests);
    for (int i = 0; i < requests.size(); i++) {
      Result r = results.get(i);
      assertThat(r.error()).as("request %d", i).isNull();
      assertThat(r.tokens()).as("request %d", i).isEqualTo(alone(requests.get(i)));
      assertThat(r.fin().getFinishReason()).isIn(FinishReason.LENGTH, FinishReason.STOP);
    }
    assertThat(worker.metrics.summary("flotilla.worker.batch.size").max())
        .as("sequences were batched")
        .isGreaterThan(8);
  }

  @Test
  void adapterEvictionAndReloadUnderPressureGiveIdenticalOutputs() throws Exception {
    List<WorkerGenerateRequest> requests = mixedRequests(24);
    requests.forEach(WorkerGrpcIT::alone);
    try (InProcessWorker twoSlots =
        new InProcessWorker(InProcessWorker.settings().withMaxAdapters(2).withMaxBatchSize(8))) {
      List<Result> results = concurrently(twoSlots, requests);
      for (int i = 0; i < requests.size(); i++) {
        assertThat(results.get(i).error()).as("request %d", i).isNull();
        assertThat(results.get(i).tokens()).as("request %d", i).isEqualTo(alone(requests.get(i)));
      }
      // and again, now that other adapters hold the slots
      List<Result> again = concurrently(twoSlots, requests);
      for (int i = 0; i < requests.size(); i++) {
        assertThat(again.get(i).tokens())
            .as("request %d, second round", i)
            .isEqualTo(alone(requests.get(i)));
      }
      // Evicted adapters wait in the host tier: they come back without reading their files.
      assertThat(
              twoSlots
                  .metrics
                  .counter("flotilla.worker.adapter.loads", "result", "ok", "source", "host")
                  .count())
          .isPositive();
      assertThat(
              twoSlots
                  .metrics
                  .counter("flotilla.worker.adapter.loads", "result", "ok", "source", "disk")
                  .count())
          .as("each adapter read once")
          .isEqualTo(
              requests.stream()
                  .map(WorkerGenerateRequest::getAdapter)
                  .filter(a -> !a.isEmpty())
                  .distinct()
                  .count());
      assertThat(
              twoSlots.metrics.counter("flotilla.worker.adapter.evictions", "tier", "pool").count())
          .isPositive();
      WorkerStats stats = twoSlots.stats();
      assertThat(stats.getAdapterSlots()).isEqualTo(2);
      assertThat(stats.getResidentAdaptersCount()).isLessThanOrEqualTo(2);
      assertThat(stats.getResidentAdapterBytes()).isPositive();
      // Eight adapters, two resident at most: the rest wait in the host tier, and say so.
      assertThat(stats.getHostAdaptersList())
          .isNotEmpty()
          .doesNotContainAnyElementsOf(stats.getResidentAdaptersList());
      assertThat(stats.getHostAdapterBytes()).isPositive();
      // The gauges read the same snapshot as the report (compared once the worker is idle).
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                WorkerStats idle = twoSlots.stats();
                assertThat(idle.getRunningSequences()).isZero();
                assertThat(twoSlots.metrics.get("flotilla.worker.adapters.host").gauge().value())
                    .isEqualTo(idle.getHostAdaptersCount());
                assertThat(twoSlots.metrics.get("flotilla.worker.adapter.host").gauge().value())
                    .isEqualTo(idle.getHostAdapterBytes());
                assertThat(twoSlots.metrics.get("flotilla.worker.adapter.pool").gauge().value())
                    .isEqualTo(idle.getResidentAdapterBytes());
              });
    }
  }

  @Test
  void prefixCacheCountersGiveTheHitRateOfARepeatedPrompt() throws Exception {
    WorkerGenerateRequest first = greedy(null, prompt(40, 7), 4);
    WorkerGenerateRequest again = first.toBuilder().setRequestId("again").build();
    try (InProcessWorker cached = new InProcessWorker(InProcessWorker.settings());
        InProcessWorker uncached =
            new InProcessWorker(InProcessWorker.settings().withPrefixCache(false))) {
      for (InProcessWorker w : List.of(cached, uncached)) {
        assertThat(w.generate(first).ok()).isTrue();
        assertThat(w.generate(again).ok()).isTrue();
      }
      int blockSize = cached.stats().getKvBlockSize();
      double lookup = cached.metrics.counter("flotilla.worker.prefix.cache.lookup.tokens").count();
      double hit = cached.metrics.counter("flotilla.worker.prefix.cache.hit.tokens").count();
      assertThat(lookup).as("both prompts offered").isEqualTo(80);
      // The repeat adopts the whole blocks of its prompt; at least its last token is computed.
      assertThat(hit).isPositive().isLessThan(40);
      assertThat(hit % blockSize).isZero();
      assertThat(cached.metrics.counter("flotilla.worker.prompt.tokens.computed").count())
          .isEqualTo(80 - hit);
      assertThat(uncached.metrics.counter("flotilla.worker.prefix.cache.lookup.tokens").count())
          .isZero();
      assertThat(uncached.metrics.counter("flotilla.worker.prompt.tokens.computed").count())
          .isEqualTo(80);
    }
  }

  @Test
  void kvExhaustionIsResolvedByPreemptionAndEveryRequestCompletes() throws Exception {
    List<WorkerGenerateRequest> requests = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      requests.add(
          greedy(i % 2 == 0 ? null : "lora-" + (i % 4 == 1 ? 0 : 4), prompt(20 + i, 50 + i), 100));
    }
    requests.forEach(WorkerGrpcIT::alone);
    // 40 KV blocks of 16 tokens (4 layers x K and V x 16 positions x 64 BF16 values); the two
    // small adapters stand for 3 of them. Each request grows to 120+ tokens (8 blocks); eight need
    // 64.
    long blockBytes = 4L * 2 * 16 * 64 * 2;
    try (InProcessWorker small =
        new InProcessWorker(InProcessWorker.settings().withKvCacheBytes(40 * blockBytes))) {
      assertThat(small.stats().getTotalKvBlocks()).isEqualTo(40);
      assertThat(small.stats().getAdapterSlots()).as("no cap but the KV budget").isZero();
      List<Result> results = concurrently(small, requests);
      int preemptions = 0;
      for (int i = 0; i < requests.size(); i++) {
        Result r = results.get(i);
        assertThat(r.error()).as("request %d", i).isNull();
        assertThat(r.tokens()).as("request %d", i).isEqualTo(alone(requests.get(i)));
        preemptions += r.fin().getPreemptions();
      }
      assertThat(preemptions).isPositive();
      assertThat(small.metrics.counter("flotilla.worker.preemptions").count())
          .isEqualTo(preemptions);
      // Resident adapters hold part of the budget; with them unloaded every block is free again.
      for (String adapter : small.stats().getResidentAdaptersList()) {
        small.blocking.unloadAdapter(UnloadAdapterRequest.newBuilder().setName(adapter).build());
      }
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                WorkerStats s = small.stats();
                assertThat(s.getRunningSequences()).isZero();
                assertThat(s.getResidentAdaptersCount()).isZero();
                assertThat(s.getFreeKvBlocks()).isEqualTo(40);
              });
    }
  }

  @Test
  void cancellingTheCallFreesTheSequenceAndItsBlocks() throws Exception {
    WorkerStats idle = worker.idleStats();
    long tokensBefore = worker.runtime.scheduler().snapshot().tokensGenerated();
    CountDownLatch firstToken = new CountDownLatch(1);
    AtomicReference<ClientCallStreamObserver<WorkerGenerateRequest>> call = new AtomicReference<>();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    worker.async.generate(
        greedy(null, prompt(8, 3), 500),
        new ClientResponseObserver<WorkerGenerateRequest, WorkerGenerateResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<WorkerGenerateRequest> requestStream) {
            call.set(requestStream);
          }

          @Override
          public void onNext(WorkerGenerateResponse value) {
            if (value.hasTokens()) {
              firstToken.countDown();
            }
          }

          @Override
          public void onError(Throwable t) {
            closed.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            closed.complete(Status.OK);
          }
        });
    assertThat(firstToken.await(30, TimeUnit.SECONDS)).isTrue();
    call.get().cancel("client gone", null);
    assertThat(closed.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.CANCELLED);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              WorkerStats s = worker.stats();
              assertThat(s.getRunningSequences()).isZero();
              assertThat(s.getQueueDepth()).isZero();
              assertThat(s.getFreeKvBlocks()).isEqualTo(idle.getFreeKvBlocks());
            });
    assertThat(worker.runtime.scheduler().snapshot().tokensGenerated() - tokensBefore)
        .as("generation stopped early")
        .isLessThan(500);
  }

  @Test
  void nChoicesStreamIndexedChunksThenOneFinalCountingThePromptOnce() {
    WorkerStats idle = worker.idleStats();
    WorkerGenerateRequest request =
        WorkerGenerateRequest.newBuilder()
            .setRequestId("choices")
            .setPromptTokenIds(TokenIds.newBuilder().addAllIds(prompt(9, 4)))
            .setSampling(
                SamplingParams.newBuilder()
                    .setMaxTokens(7)
                    .setTemperature(1.2f)
                    .setSeed(77)
                    .setN(3))
            .build();
    List<WorkerGenerateResponse> messages = new ArrayList<>();
    worker.blocking.generate(request).forEachRemaining(messages::add);

    Map<Integer, List<Integer>> byChoice = new HashMap<>();
    for (WorkerGenerateResponse m : messages) {
      if (m.hasTokens()) {
        byChoice
            .computeIfAbsent(m.getTokens().getIndex(), i -> new ArrayList<>())
            .addAll(m.getTokens().getTokenIdsList());
      }
    }
    assertThat(byChoice.keySet()).containsExactlyInAnyOrder(0, 1, 2);
    WorkerFinal fin = messages.get(messages.size() - 1).getFinal();
    assertThat(fin.getUsage().getPromptTokens()).isEqualTo(9);
    assertThat(fin.getChoicesList()).extracting(c -> c.getIndex()).containsExactly(0, 1, 2);
    // A sampled choice may draw end-of-sequence before max_tokens: each choice's end says which.
    int completion = 0;
    for (var end : fin.getChoicesList()) {
      int tokens = byChoice.get(end.getIndex()).size();
      assertThat(end.getCompletionTokens()).as("choice %d", end.getIndex()).isEqualTo(tokens);
      assertThat(end.getFinishReason())
          .as("choice %d after %d tokens", end.getIndex(), tokens)
          .isEqualTo(tokens == 7 ? FinishReason.LENGTH : FinishReason.STOP);
      completion += tokens;
    }
    assertThat(fin.getUsage().getCompletionTokens()).isEqualTo(completion);
    // choice 0 is the request with one choice; the same request gives the same choices
    WorkerGenerateRequest one =
        request.toBuilder().setSampling(request.getSampling().toBuilder().setN(1)).build();
    assertThat(worker.generate(one).tokens()).isEqualTo(byChoice.get(0));
    List<WorkerGenerateResponse> again = new ArrayList<>();
    worker.blocking.generate(request).forEachRemaining(again::add);
    assertThat(again.stream().filter(m -> m.hasTokens() && m.getTokens().getIndex() == 2))
        .flatExtracting(m -> m.getTokens().getTokenIdsList())
        .isEqualTo(byChoice.get(2));
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> assertThat(worker.stats().getFreeKvBlocks()).isEqualTo(idle.getFreeKvBlocks()));
  }

  @Test
  void eachChoicePenalizesItsOwnTokensAndGetsItsOwnTopLogprobs() {
    SamplingParams sampling =
        SamplingParams.newBuilder()
            .setMaxTokens(8)
            .setTemperature(1.0f)
            .setSeed(91)
            .setFrequencyPenalty(2f)
            .setRepetitionPenalty(1.5f)
            .setTopLogprobs(3)
            .setN(3)
            .build();
    WorkerGenerateRequest request =
        WorkerGenerateRequest.newBuilder()
            .setRequestId("choice-penalties")
            .setPromptTokenIds(TokenIds.newBuilder().addAllIds(prompt(9, 5)))
            .setLogprobs(true)
            .setSampling(sampling)
            .build();
    Map<Integer, List<dev.flotilla.api.v1.TokenChunk>> byChoice = new HashMap<>();
    worker
        .blocking
        .generate(request)
        .forEachRemaining(
            m -> {
              if (m.hasTokens()) {
                byChoice
                    .computeIfAbsent(m.getTokens().getIndex(), i -> new ArrayList<>())
                    .add(m.getTokens());
              }
            });
    assertThat(byChoice.keySet()).containsExactlyInAnyOrder(0, 1, 2);

    // Choice c samples as a request of one choice with choice c's seed: the same prompt, then its
    // own tokens, so its penalties count only those.
    for (int c = 0; c < 3; c++) {
      List<dev.flotilla.api.v1.TokenChunk> chunks = byChoice.get(c);
      List<Integer> tokens = chunks.stream().flatMap(k -> k.getTokenIdsList().stream()).toList();
      List<List<Integer>> tops =
          chunks.stream()
              .flatMap(k -> k.getTopLogprobsList().stream())
              .map(t -> t.getTokenIdsList())
              .toList();
      assertThat(tops).hasSameSizeAs(tokens).allMatch(t -> t.size() == 3);

      WorkerGenerateRequest alone =
          request.toBuilder()
              .setSampling(
                  sampling.toBuilder().setN(1).setSeed(ChoiceSeeds.seed(sampling.getSeed(), c)))
              .build();
      List<Integer> aloneTokens = new ArrayList<>();
      List<List<Integer>> aloneTops = new ArrayList<>();
      worker
          .blocking
          .generate(alone)
          .forEachRemaining(
              m -> {
                if (m.hasTokens()) {
                  aloneTokens.addAll(m.getTokens().getTokenIdsList());
                  m.getTokens()
                      .getTopLogprobsList()
                      .forEach(t -> aloneTops.add(t.getTokenIdsList()));
                }
              });
      assertThat(tokens).as("choice %d", c).isEqualTo(aloneTokens);
      assertThat(tops).as("choice %d alternatives", c).isEqualTo(aloneTops);
    }
  }

  @Test
  void drainingFinishesInFlightRequestsAndRefusesNewOnes() throws Exception {
    InProcessWorker draining = InProcessWorker.start();
    try {
      List<CompletableFuture<Result>> inFlight = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        inFlight.add(draining.generateAsync(greedy("lora-" + i, prompt(10, i), 400)));
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(2))
          .until(() -> draining.stats().getRunningSequences() == 4);
      draining.holder.draining();
      CompletableFuture<Boolean> drained =
          CompletableFuture.supplyAsync(() -> draining.runtime.drain(Duration.ofSeconds(60)));
      Result refused = draining.generate(greedy(null, prompt(4, 1), 4));
      assertThat(refused.error().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(drained.get(60, TimeUnit.SECONDS)).isTrue();
      for (CompletableFuture<Result> f : inFlight) {
        Result r = f.get(10, TimeUnit.SECONDS);
        assertThat(finishedWith(r, FinishReason.LENGTH)).as("%s", r.error()).isTrue();
        assertThat(r.tokens()).hasSize(400);
      }
      assertThat(draining.stats().getDraining()).isTrue();
    } finally {
      draining.close();
    }
  }

  @Test
  void aDrainWhoseGraceRunsOutFailsWhatIsLeftWithUnavailable() throws Exception {
    try (InProcessWorker w = InProcessWorker.start()) {
      CompletableFuture<Result> longOne = w.generateAsync(greedy(null, prompt(4, 9), 500));
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(2))
          .until(() -> w.stats().getRunningSequences() == 1);
      w.holder.draining();
      assertThat(w.runtime.drain(Duration.ZERO)).isFalse();
      Result r = longOne.get(30, TimeUnit.SECONDS);
      assertThat(r.error().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(r.error().getDescription()).contains("shut down");
    }
  }

  @Test
  void stopSequencesEndTheTextBeforeTheMatch() {
    WorkerGenerateRequest plain =
        WorkerGenerateRequest.newBuilder()
            .setPrompt("once upon a time")
            .setSampling(SamplingParams.newBuilder().setMaxTokens(40))
            .build();
    String text = worker.generate(plain).text();
    int at = -1;
    for (int i = 1; i + 2 <= text.length(); i++) {
      String candidate = text.substring(i, i + 2);
      if (!candidate.contains("\uFFFD") && text.indexOf(candidate) == i) {
        at = i;
        break;
      }
    }
    assertThat(at).as("a usable stop string in %s", text).isPositive();
    String stop = text.substring(at, at + 2);
    Result r =
        worker.generate(
            plain.toBuilder().setSampling(plain.getSampling().toBuilder().addStop(stop)).build());
    assertThat(r.fin().getFinishReason()).isEqualTo(FinishReason.STOP_SEQUENCE);
    assertThat(r.text()).isEqualTo(text.substring(0, at));
  }

  @Test
  void logitBiasStopTokenIdsMinTokensAndTopLogprobsReachTheEngine() {
    WorkerGenerateRequest plain = greedy(null, prompt(6, 3), 8);
    List<Integer> free = worker.generate(plain).tokens();
    SamplingParams s = plain.getSampling();

    Result banned =
        worker.generate(
            plain.toBuilder().setSampling(s.toBuilder().putLogitBias(free.get(0), -100f)).build());
    assertThat(banned.tokens()).hasSize(8).doesNotContain(free.get(0));

    int stopAt = free.get(2);
    Result stopped =
        worker.generate(
            plain.toBuilder().setSampling(s.toBuilder().addStopTokenIds(stopAt)).build());
    assertThat(stopped.fin().getFinishReason()).isEqualTo(FinishReason.STOP);
    assertThat(stopped.tokens()).isEqualTo(free.subList(0, free.indexOf(stopAt) + 1));

    // The first greedy token as a stop id, with min_tokens 3: it cannot be drawn before the
    // fourth token, so the output starts elsewhere.
    Result atLeast =
        worker.generate(
            plain.toBuilder()
                .setSampling(s.toBuilder().addStopTokenIds(free.get(0)).setMinTokens(3))
                .build());
    assertThat(atLeast.tokens().size()).isGreaterThan(3);
    assertThat(atLeast.tokens().subList(0, 3)).doesNotContain(free.get(0));

    // Greedy: the sampled token is each position's most likely one, so it leads its alternatives.
    List<dev.flotilla.api.v1.TokenChunk> chunks = new ArrayList<>();
    worker
        .blocking
        .generate(
            plain.toBuilder()
                .setLogprobs(true)
                .setSampling(s.toBuilder().setTopLogprobs(5))
                .build())
        .forEachRemaining(
            m -> {
              if (m.hasTokens()) {
                chunks.add(m.getTokens());
              }
            });
    List<Integer> seen = new ArrayList<>();
    for (var chunk : chunks) {
      assertThat(chunk.getTopLogprobsCount()).isEqualTo(chunk.getTokenIdsCount());
      assertThat(chunk.getTokensCount()).isEqualTo(chunk.getTokenIdsCount());
      for (int i = 0; i < chunk.getTokenIdsCount(); i++) {
        var top = chunk.getTopLogprobs(i);
        int token = chunk.getTokenIds(i);
        assertThat(top.getTokenIdsCount()).isEqualTo(5);
        assertThat(top.getTokenIds(0)).isEqualTo(token);
        assertThat(top.getLogprobs(0)).isEqualTo(chunk.getLogprobs(i));
        assertThat(top.getLogprobsList()).isSortedAccordingTo(java.util.Comparator.reverseOrder());
        assertThat(top.getTokens(1))
            .isEqualTo(worker.runtime.tokenizer().decode(new int[] {top.getTokenIds(1)}, 0, 1));
        assertThat(chunk.getTokens(i))
            .isEqualTo(worker.runtime.tokenizer().decode(new int[] {token}, 0, 1));
        seen.add(token);
      }
    }
    assertThat(seen).isEqualTo(free);
  }

  @Test
  void seededSamplingIsReproducibleAcrossBatching() {
    WorkerGenerateRequest sampled =
        WorkerGenerateRequest.newBuilder()
            .setAdapter("lora-3")
            .setPromptTokenIds(TokenIds.newBuilder().addAllIds(prompt(9, 4)))
            .setSampling(
                SamplingParams.newBuilder()
                    .setMaxTokens(16)
                    .setTemperature(0.9f)
                    .setTopK(50)
                    .setTopP(0.95f)
                    .setSeed(1234))
            .build();
    List<Integer> solo = worker.generate(sampled).tokens();
    List<WorkerGenerateRequest> mix = new ArrayList<>(mixedRequests(8));
    mix.add(sampled);
    List<Result> results = concurrently(worker, mix);
    assertThat(results.get(8).tokens()).isEqualTo(solo);
  }

  @Test
  void loadAndUnloadAdapters() {
    String source = "file://" + TestModels.ADAPTERS.get("lora-5");
    LoadAdapterResponse loaded =
        worker.blocking.loadAdapter(
            LoadAdapterRequest.newBuilder()
                .setName("extra")
                .setSource(source)
                .setBaseModel("tiny")
                .build());
    assertThat(loaded.getRank()).isEqualTo(4 << (5 % 3));
    assertThat(loaded.getTargetModulesList()).isNotEmpty();
    assertThat(loaded.getBytes()).isPositive();
    assertThat(worker.stats().getResidentAdaptersList()).contains("extra");
    assertThat(worker.generate(greedy("extra", prompt(5, 5), 6)).tokens())
        .isEqualTo(alone(greedy("lora-5", prompt(5, 5), 6)));

    assertThat(
            worker
                .blocking
                .unloadAdapter(UnloadAdapterRequest.newBuilder().setName("extra").build())
                .getUnloaded())
        .isTrue();
    assertThat(worker.stats().getResidentAdaptersList()).doesNotContain("extra");
    assertThat(
            worker
                .blocking
                .unloadAdapter(UnloadAdapterRequest.newBuilder().setName("extra").build())
                .getUnloaded())
        .isFalse();
    assertThat(worker.generate(greedy("extra", prompt(5, 5), 6)).error().getCode())
        .isEqualTo(Status.Code.NOT_FOUND);
  }

  @Test
  void loadsAnAdapterFromTheHubOnceAndFromTheCacheAfter() {
    LoadAdapterResponse loaded =
        worker.blocking.loadAdapter(
            LoadAdapterRequest.newBuilder()
                .setName("from-hub")
                .setSource("hf://org/lora-5@main")
                .setBaseModel("tiny")
                .build());
    assertThat(loaded.getRank()).isEqualTo(4 << (5 % 3));
    assertThat(worker.generate(greedy("from-hub", prompt(5, 5), 6)).tokens())
        .isEqualTo(alone(greedy("lora-5", prompt(5, 5), 6)));
    assertThat(cache.resolve("hf/models--org--lora-5/snapshots/" + hub.commit))
        .isDirectoryContaining(p -> p.endsWith("adapter_model.safetensors"));
    long downloads = hub.requests.stream().filter(r -> r.path().contains("/resolve/")).count();

    worker.blocking.unloadAdapter(UnloadAdapterRequest.newBuilder().setName("from-hub").build());
    worker.blocking.loadAdapter(
        LoadAdapterRequest.newBuilder().setName("from-hub").setSource("hf://org/lora-5").build());
    assertThat(hub.requests.stream().filter(r -> r.path().contains("/resolve/")).count())
        .isEqualTo(downloads);

    StatusRuntimeException missing =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class,
            () ->
                worker.blocking.loadAdapter(
                    LoadAdapterRequest.newBuilder()
                        .setName("absent")
                        .setSource("hf://org/absent")
                        .build()));
    assertThat(missing.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(missing.getStatus().getDescription())
        .contains("adapter 'absent'", "hf://org/absent@main", "404 Not Found");
    assertThat(worker.runtime.catalog().contains("absent")).isFalse();
  }

  @Test
  void malformedAdaptersFailOnlyTheirRequests() {
    worker.runtime.catalog().register("broken", TestModels.BROKEN);
    List<WorkerGenerateRequest> requests = new ArrayList<>(mixedRequests(6));
    requests.add(greedy("broken", prompt(5, 1), 5));
    requests.add(greedy("broken", prompt(6, 2), 5));
    List<Result> results = concurrently(worker, requests);
    for (int i = 0; i < 6; i++) {
      assertThat(results.get(i).error()).isNull();
      assertThat(results.get(i).tokens()).isEqualTo(alone(requests.get(i)));
    }
    for (Result broken : results.subList(6, 8)) {
      assertThat(broken.error().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(broken.error().getDescription()).contains("'broken'", "adapter_model.safetensors");
    }

    StatusRuntimeException mismatch =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class,
            () ->
                worker.blocking.loadAdapter(
                    LoadAdapterRequest.newBuilder()
                        .setName("mismatched")
                        .setSource("file://" + TestModels.MISMATCHED)
                        .build()));
    assertThat(mismatch.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(mismatch.getStatus().getDescription()).contains("lora_A");
    assertThat(worker.runtime.catalog().contains("mismatched")).isFalse();

    StatusRuntimeException otherBase =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class,
            () ->
                worker.blocking.loadAdapter(
                    LoadAdapterRequest.newBuilder()
                        .setName("other")
                        .setSource("file://" + TestModels.OTHER_BASE)
                        .build()));
    assertThat(otherBase.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(worker.generate(greedy("lora-0", prompt(4, 4), 3)).ok()).isTrue();
  }

  @Test
  void badInputIsRejectedBeforeTheEngine() {
    long tokensBefore = worker.runtime.scheduler().snapshot().tokensGenerated();
    WorkerGenerateRequest ok = greedy(null, prompt(4, 1), 4);
    SamplingParams s = ok.getSampling();
    Map<String, WorkerGenerateRequest> invalid = new java.util.LinkedHashMap<>();
    invalid.put("prompt is empty", ok.toBuilder().clearInput().build());
    invalid.put("prompt is empty ", ok.toBuilder().setPrompt("").build());
    invalid.put("the prompt has 512 tokens", greedy(null, prompt(512, 1), 0));
    invalid.put("exceeds the context length", greedy(null, prompt(500, 1), 20));
    invalid.put(
        "outside 0..1023",
        ok.toBuilder().setPromptTokenIds(TokenIds.newBuilder().addIds(5).addIds(1024)).build());
    invalid.put(
        "temperature", ok.toBuilder().setSampling(s.toBuilder().setTemperature(-0.5f)).build());
    invalid.put(
        "top_p must be in (0, 1]", ok.toBuilder().setSampling(s.toBuilder().setTopP(1.5f)).build());
    invalid.put(
        "top_p must be in (0, 1] ",
        ok.toBuilder().setSampling(s.toBuilder().setTopP(-0.1f)).build());
    invalid.put(
        "temperature must be a finite number",
        ok.toBuilder().setSampling(s.toBuilder().setTemperature(Float.NaN)).build());
    invalid.put(
        "temperature must be a finite number ",
        ok.toBuilder().setSampling(s.toBuilder().setTemperature(Float.POSITIVE_INFINITY)).build());
    invalid.put(
        "top_p must be in (0, 1]  ",
        ok.toBuilder().setSampling(s.toBuilder().setTopP(Float.NaN)).build());
    invalid.put("top_k", ok.toBuilder().setSampling(s.toBuilder().setTopK(-1)).build());
    invalid.put(
        "virtual_token_counter must be a finite number",
        ok.toBuilder().setVirtualTokenCounter(Double.NaN).build());
    invalid.put(
        "virtual_token_counter must be a finite number ",
        ok.toBuilder().setVirtualTokenCounter(Double.NEGATIVE_INFINITY).build());
    invalid.put("priority must be in 0..2", ok.toBuilder().setPriority(Integer.MIN_VALUE).build());
    invalid.put(
        "max_tokens must be >= 0",
        ok.toBuilder().setSampling(s.toBuilder().setMaxTokens(-3)).build());
    SamplingParams.Builder many = s.toBuilder();
    for (int i = 0; i < 17; i++) {
      many.addStop("s" + i);
    }
    invalid.put("at most 16 stop sequences", ok.toBuilder().setSampling(many).build());
    invalid.put("n must be in 1..16", ok.toBuilder().setSampling(s.toBuilder().setN(17)).build());
    invalid.put("n must be in 1..16 ", ok.toBuilder().setSampling(s.toBuilder().setN(-1)).build());
    invalid.put(
        "at most 256 characters",
        ok.toBuilder().setSampling(s.toBuilder().addStop("x".repeat(257))).build());
    invalid.put(
        "presence_penalty must be in [-2, 2]",
        ok.toBuilder().setSampling(s.toBuilder().setPresencePenalty(2.5f)).build());
    invalid.put(
        "frequency_penalty must be in [-2, 2]",
        ok.toBuilder().setSampling(s.toBuilder().setFrequencyPenalty(Float.NaN)).build());
    invalid.put(
        "repetition_penalty must be a finite number > 0",
        ok.toBuilder().setSampling(s.toBuilder().setRepetitionPenalty(-1f)).build());
    invalid.put(
        "token id 1024 is outside the vocabulary",
        ok.toBuilder().setSampling(s.toBuilder().putLogitBias(1024, 1f)).build());
    invalid.put(
        "values must be in [-100, 100]",
        ok.toBuilder().setSampling(s.toBuilder().putLogitBias(3, -101f)).build());
    invalid.put(
        "top_logprobs must be in 0..20",
        ok.toBuilder().setLogprobs(true).setSampling(s.toBuilder().setTopLogprobs(21)).build());
    invalid.put(
        "top_logprobs needs logprobs",
        ok.toBuilder().setSampling(s.toBuilder().setTopLogprobs(2)).build());
    invalid.put(
        "min_tokens must be in 0..max_tokens (4)",
        ok.toBuilder().setSampling(s.toBuilder().setMinTokens(5)).build());
    invalid.put(
        "token id 2000 is outside the vocabulary",
        ok.toBuilder().setSampling(s.toBuilder().addStopTokenIds(2000)).build());
    invalid.forEach(
        (message, request) -> {
          Result r = worker.generate(request);
          assertThat(r.error()).as(message).isNotNull();
          assertThat(r.error().getCode()).as(message).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(r.error().getDescription()).as(message).contains(message.strip());
        });

    WorkerGenerateRequest infinite =
        ok.toBuilder().setSampling(s.toBuilder().setTemperature(Float.POSITIVE_INFINITY)).build();
    assertThatThrownBy(() -> worker.blocking.generate(infinite).forEachRemaining(m -> {}))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e ->
                assertThat(
                        io.grpc.protobuf.StatusProto.fromThrowable(e).getDetailsList().stream()
                            .filter(d -> d.is(com.google.rpc.BadRequest.class))
                            .map(
                                d -> {
                                  try {
                                    return d.unpack(com.google.rpc.BadRequest.class)
                                        .getFieldViolations(0)
                                        .getField();
                                  } catch (Exception x) {
                                    throw new AssertionError(x);
                                  }
                                })
                            .toList())
                    .containsExactly("sampling.temperature"));

    Result unknown = worker.generate(greedy("nope", prompt(4, 1), 4));
    assertThat(unknown.error().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(unknown.error().getDescription()).contains("'nope'");

    assertThatThrownBy(
            () ->
                worker.blocking.loadAdapter(
                    LoadAdapterRequest.newBuilder()
                        .setName("x")
                        .setSource("file://" + TestModels.ADAPTERS.get("lora-0"))
                        .setBaseModel("acme/llama-70b")
                        .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
              assertThat(e.getStatus().getDescription()).contains("acme/llama-70b", "tiny");
            });
    assertThatThrownBy(
            () ->
                worker.blocking.loadAdapter(
                    LoadAdapterRequest.newBuilder()
                        .setName("x")
                        .setSource("ftp://host/adapter")
                        .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription())
                  .contains("give file://, pvc://, hf:// or s3://");
            });
    assertThat(worker.runtime.scheduler().snapshot().tokensGenerated()).isEqualTo(tokensBefore);
  }
}
