package dev.flotilla.worker.service;

import static dev.flotilla.worker.InProcessWorker.greedy;
import static dev.flotilla.worker.InProcessWorker.prompt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.v1.EmbedInput;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.worker.v1.WorkerEmbedRequest;
import dev.flotilla.api.worker.v1.WorkerEmbedResponse;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.testkit.ReferenceModel;
import dev.flotilla.testkit.SentenceTransformersFiles;
import dev.flotilla.testkit.TinyModelGenerator;
import dev.flotilla.worker.InProcessWorker;
import dev.flotilla.worker.InProcessWorker.Result;
import dev.flotilla.worker.TestModels;
import dev.flotilla.worker.engine.KvDtype;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Embed through the worker's gRPC service and the real engine, on the tiny model made an embedding
 * model by its sentence-transformers files: pooled vectors equal the Java reference's, with and
 * without an adapter, normalised to unit length when the model says so, and the same when the
 * inputs share steps with generation traffic.
 */
class WorkerEmbedIT {
  static final int HIDDEN = 128;

  @TempDir static Path dir;
  static Path lastDir;
  static Path meanDir;
  static InProcessWorker last; // last-token pooling, normalised
  static InProcessWorker mean; // mean pooling, not normalised

  @BeforeAll
  static void start() throws Exception {
    TestModels.ensure(); // the adapters, made for the same base shapes
    lastDir = dir.resolve("embed-last");
    meanDir = dir.resolve("embed-mean");
    for (Path d : List.of(lastDir, meanDir)) {
      TinyModelGenerator.tiny().seed(7).generate(d);
    }
    SentenceTransformersFiles.write(
        lastDir, HIDDEN, SentenceTransformersFiles.Pooling.LAST_TOKEN, true);
    SentenceTransformersFiles.write(
        meanDir, HIDDEN, SentenceTransformersFiles.Pooling.MEAN_TOKENS, false);
    // An F32 KV cache: the Java reference computes in F32, and 1e-4 is the F32 tolerance.
    last =
        new InProcessWorker(
            InProcessWorker.settings().withModelDir(lastDir).withKvCacheDtype(KvDtype.F32));
    mean =
        new InProcessWorker(
            InProcessWorker.settings().withModelDir(meanDir).withKvCacheDtype(KvDtype.F32));
  }

  @AfterAll
  static void stop() throws Exception {
    last.close();
    mean.close();
  }

  static EmbedInput ids(List<Integer> tokens) {
    return EmbedInput.newBuilder().setTokenIds(TokenIds.newBuilder().addAllIds(tokens)).build();
  }

  static WorkerEmbedRequest request(String adapter, List<EmbedInput> inputs) {
    return WorkerEmbedRequest.newBuilder()
        .setRequestId("embed")
        .setAdapter(adapter == null ? "" : adapter)
        .addAllInputs(inputs)
        .build();
  }

  static int[] array(List<Integer> tokens) {
    return tokens.stream().mapToInt(Integer::intValue).toArray();
  }

  static void assertClose(List<Float> got, double[] want, double tolerance) {
    assertThat(got).hasSize(want.length);
    for (int i = 0; i < want.length; i++) {
      assertThat((double) got.get(i)).as("element %d", i).isCloseTo(want[i], within(tolerance));
    }
  }

  static double norm(List<Float> v) {
    double s = 0;
    for (float x : v) {
      s += (double) x * x;
    }
    return Math.sqrt(s);
  }

  @Test
  void lastTokenPoolingIsTheReferenceStateNormalised() throws Exception {
    ReferenceModel reference = ReferenceModel.load(lastDir);
    List<Integer> a = prompt(12, 1), b = prompt(40, 2);
    WorkerEmbedResponse r = last.blocking.embed(request(null, List.of(ids(a), ids(b))));
    assertThat(r.getEmbeddingsCount()).isEqualTo(2);
    assertClose(
        r.getEmbeddings(0).getValuesList(), reference.embedding(array(a), false, true), 1e-4);
    assertClose(
        r.getEmbeddings(1).getValuesList(), reference.embedding(array(b), false, true), 1e-4);
    assertThat(norm(r.getEmbeddings(0).getValuesList())).isCloseTo(1.0, within(1e-5));
    assertThat(norm(r.getEmbeddings(1).getValuesList())).isCloseTo(1.0, within(1e-5));
    assertThat(r.getPromptTokens()).isEqualTo(52);
  }

  @Test
  void meanPoolingAveragesEveryPromptStateAcrossChunks() throws Exception {
    ReferenceModel reference = ReferenceModel.load(meanDir);
    List<Integer> longPrompt = prompt(300, 3); // more rows than one step carries (256)
    WorkerEmbedResponse r = mean.blocking.embed(request(null, List.of(ids(longPrompt))));
    double[] want = reference.embedding(array(longPrompt), true, false);
    assertClose(r.getEmbeddings(0).getValuesList(), want, 1e-4);
    assertThat(norm(r.getEmbeddings(0).getValuesList()))
        .as("not normalised: the model lists no Normalize module")
        .isNotCloseTo(1.0, within(1e-3));
  }

  @Test
  void anAdapterAppliesAsInGeneration() throws Exception {
    ReferenceModel reference =
        ReferenceModel.load(lastDir).withAdapter(TestModels.ADAPTERS.get("lora-1"));
    List<Integer> p = prompt(20, 4);
    WorkerEmbedResponse r = last.blocking.embed(request("lora-1", List.of(ids(p))));
    assertClose(
        r.getEmbeddings(0).getValuesList(), reference.embedding(array(p), false, true), 1e-4);
    WorkerEmbedResponse base = last.blocking.embed(request(null, List.of(ids(p))));
    assertThat(base.getEmbeddings(0).getValuesList())
        .isNotEqualTo(r.getEmbeddings(0).getValuesList());
  }

  @Test
  void embeddingsBesideGenerationTrafficEqualTheirsAlone() throws Exception {
    List<List<Integer>> inputs = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      inputs.add(prompt(5 + 23 * i, 10 + i));
    }
    List<WorkerEmbedRequest> embeds = new ArrayList<>();
    for (int i = 0; i < inputs.size(); i++) {
      embeds.add(request(i % 2 == 0 ? null : "lora-" + i, List.of(ids(inputs.get(i)))));
    }
    List<List<Float>> alone = new ArrayList<>();
    for (WorkerEmbedRequest e : embeds) {
      alone.add(mean.blocking.embed(e).getEmbeddings(0).getValuesList());
    }
    List<WorkerGenerateRequest> generations = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      generations.add(greedy(i % 3 == 0 ? null : "lora-" + i % 8, prompt(4 + 9 * i, 30 + i), 24));
    }
    List<List<Integer>> generatedAlone = new ArrayList<>();
    for (WorkerGenerateRequest g : generations) {
      generatedAlone.add(mean.generate(g).tokens());
    }

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> mean.runtime.scheduler().snapshot().running() == 0);
    int freeBefore = mean.runtime.scheduler().snapshot().freeKvBlocks();

    List<CompletableFuture<Result>> running =
        generations.stream().map(mean::generateAsync).toList();
    List<CompletableFuture<WorkerEmbedResponse>> embedded =
        embeds.stream().map(this::embedAsync).toList();
    for (int i = 0; i < embeds.size(); i++) {
      List<Float> got = embedded.get(i).get(120, TimeUnit.SECONDS).getEmbeddings(0).getValuesList();
      double[] want = alone.get(i).stream().mapToDouble(Float::doubleValue).toArray();
      assertClose(got, want, 1e-6);
    }
    for (int i = 0; i < generations.size(); i++) {
      Result r = running.get(i).get(120, TimeUnit.SECONDS);
      assertThat(r.tokens()).as("generation %d", i).isEqualTo(generatedAlone.get(i));
    }
    // Resident adapters hold their share of the pool; sequences hold nothing once all answered.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(mean.runtime.scheduler().snapshot().freeKvBlocks())
                    .as("every sequence freed its KV blocks")
                    .isEqualTo(freeBefore));
  }

  private CompletableFuture<WorkerEmbedResponse> embedAsync(WorkerEmbedRequest request) {
    CompletableFuture<WorkerEmbedResponse> f = new CompletableFuture<>();
    mean.async.embed(
        request,
        new StreamObserver<>() {
          @Override
          public void onNext(WorkerEmbedResponse value) {
            f.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            f.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    return f;
  }

  @Test
  void badRequestsAreRefusedByName() throws Exception {
    assertThatThrownBy(
            () ->
                last.blocking.embed(
                    request(null, List.of(ids(prompt(3, 1)))).toBuilder()
                        .setDimensions(64)
                        .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).contains("dimensions", "128", "64");
            });
    assertThat(
            last.blocking
                .embed(
                    request(null, List.of(ids(prompt(3, 1)))).toBuilder()
                        .setDimensions(128)
                        .build())
                .getEmbeddings(0)
                .getValuesCount())
        .isEqualTo(HIDDEN);
    assertThatThrownBy(() -> last.blocking.embed(request(null, List.of())))
        .hasMessageContaining("INVALID_ARGUMENT")
        .hasMessageContaining("input");
    assertThatThrownBy(() -> last.blocking.embed(request(null, List.of(ids(List.of(5000))))))
        .hasMessageContaining("INVALID_ARGUMENT")
        .hasMessageContaining("token id 5000");
    assertThatThrownBy(() -> last.blocking.embed(request("no-such", List.of(ids(prompt(3, 1))))))
        .hasMessageContaining("NOT_FOUND");
    try (InProcessWorker plain = InProcessWorker.start()) {
      assertThatThrownBy(() -> plain.blocking.embed(request(null, List.of(ids(prompt(3, 1))))))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                assertThat(e.getStatus().getDescription()).contains("not an embedding model");
              });
    }
  }

  @Test
  void textInputsAreTokenizedByTheModelsTokenizer() {
    String text = "the quick brown fox";
    WorkerEmbedResponse byText =
        last.blocking.embed(request(null, List.of(EmbedInput.newBuilder().setText(text).build())));
    int[] tokens = last.runtime.tokenizer().encode(text);
    List<Integer> ids = java.util.Arrays.stream(tokens).boxed().toList();
    WorkerEmbedResponse byIds = last.blocking.embed(request(null, List.of(ids(ids))));
    assertThat(byText.getEmbeddings(0)).isEqualTo(byIds.getEmbeddings(0));
    assertThat(byText.getPromptTokens()).isEqualTo(tokens.length);
  }
}
