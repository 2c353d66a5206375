package dev.flotilla.gateway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.gateway.service.FakeWorker;
import dev.flotilla.workerlink.GenerateCall;
import dev.flotilla.workerlink.GenerateListener;
import io.grpc.Deadline;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * {@link GrpcWorkerClient} against a worker over real gRPC sockets: Generate calls multiplexed on
 * one GenerateStream keep each call's contract (its own tokens in order, its end, cancellation,
 * deadline, a broken stream), and a worker without GenerateStream fails them as unavailable.
 */
class GrpcWorkerClientIT {

  /** What one call's listener heard, in order, and whether two callbacks ever overlapped. */
  static final class Heard implements GenerateListener {
    final List<String> events = new CopyOnWriteArrayList<>();
    final CompletableFuture<String> end = new CompletableFuture<>();
    volatile Status error;
    private final AtomicBoolean inside = new AtomicBoolean();
    private volatile boolean overlapped;

    private void add(String event) {
      if (!inside.compareAndSet(false, true)) {
        overlapped = true;
      }
      events.add(event);
      inside.set(false);
    }

    /** How the call ended (within 5 s), its callbacks having never overlapped. */
    String ending() throws Exception {
      String how = end.get(5, TimeUnit.SECONDS);
      assertThat(overlapped).as("callbacks never overlap").isFalse();
      return how;
    }

    @Override
    public void onPromptCounted(int promptTokens) {
      add("prompt " + promptTokens);
    }

    @Override
    public void onTokens(TokenChunk chunk) {
      add(chunk.getText().trim());
    }

    @Override
    public void onFinal(WorkerFinal fin) {
      add("final " + fin.getUsage().getCompletionTokens());
      end.complete("final");
    }

    @Override
    public void onError(Status status) {
      error = status;
      add("error " + status.getCode());
      end.complete(status.getCode().name());
    }
  }

  private static WorkerGenerateRequest request(String id, int maxTokens) {
    return WorkerGenerateRequest.newBuilder()
        .setRequestId(id)
        .setPrompt("hi")
        .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens))
        .build();
  }

  @Test
  void callsToOneWorkerShareOneStreamAndEachHearsItsOwnTokens() throws Exception {
    try (FakeWorker worker = new FakeWorker("w");
        GrpcWorkerClient client = new GrpcWorkerClient()) {
      worker.tokens = 3;
      worker.announcedPromptTokens = 5;
      List<Heard> heard = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        Heard h = new Heard();
        heard.add(h);
        client.generate(worker.address(), request("r" + i, 2 + i % 2), h, null, 16);
      }
      for (int i = 0; i < heard.size(); i++) {
        assertThat(heard.get(i).ending()).isEqualTo("final");
        assertThat(heard.get(i).events)
            .containsExactlyElementsOf(
                i % 2 == 0
                    ? List.of("prompt 5", "t0", "t1", "final 2")
                    : List.of("prompt 5", "t0", "t1", "t2", "final 3"));
      }
      assertThat(worker.generateStreams.get()).isEqualTo(1);
      assertThat(worker.generated).hasSize(20);
    }
  }

  @Test
  void aCancelledCallIsCancelledAtTheWorkerAndHearsNothingMore() throws Exception {
    try (FakeWorker worker = new FakeWorker("w");
        GrpcWorkerClient client = new GrpcWorkerClient()) {
      worker.stallAfterFirst = true;
      Heard heard = new Heard();
      GenerateCall call = client.generate(worker.address(), request("r", 5), heard, null, 16);
      await().atMost(5, TimeUnit.SECONDS).until(() -> heard.events.contains("t0"));
      call.cancel("client cancelled");
      await().atMost(5, TimeUnit.SECONDS).until(() -> worker.cancelled.get() == 1);
      Heard other = new Heard();
      worker.stallAfterFirst = false;
      client.generate(worker.address(), request("r2", 1), other, null, 16);
      assertThat(other.ending()).as("the stream goes on").isEqualTo("final");
      assertThat(heard.events).containsExactly("t0");
    }
  }

  @Test
  void aCallPastItsDeadlineFailsAndIsCancelledAtTheWorker() throws Exception {
    try (FakeWorker worker = new FakeWorker("w");
        GrpcWorkerClient client = new GrpcWorkerClient()) {
      worker.stallAfterFirst = true;
      Heard heard = new Heard();
      client.generate(
          worker.address(), request("r", 5), heard, Deadline.after(300, TimeUnit.MILLISECONDS), 16);
      assertThat(heard.ending()).isEqualTo("DEADLINE_EXCEEDED");
      await().atMost(5, TimeUnit.SECONDS).until(() -> worker.cancelled.get() == 1);
      assertThat(heard.events).containsExactly("t0", "error DEADLINE_EXCEEDED");
    }
  }

  @Test
  void whenTheWorkerGoesAwayEveryOpenCallFailsAsUnavailable() throws Exception {
    try (GrpcWorkerClient client = new GrpcWorkerClient()) {
      FakeWorker worker = new FakeWorker("w");
      worker.stallAfterFirst = true;
      List<Heard> heard = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        Heard h = new Heard();
        heard.add(h);
        client.generate(worker.address(), request("r" + i, 5), h, null, 16);
      }
      await()
          .atMost(5, TimeUnit.SECONDS)
          .until(() -> heard.stream().allMatch(h -> h.events.contains("t0")));
      worker.close();
      for (Heard h : heard) {
        assertThat(h.ending()).isEqualTo("UNAVAILABLE");
        assertThat(h.events).containsExactly("t0", "error UNAVAILABLE");
      }
    }
  }

  @Test
  void aForgottenWorkersOpenCallsGoOnAndItsStreamEndsAfterTheLast() throws Exception {
    try (FakeWorker worker = new FakeWorker("w");
        GrpcWorkerClient client = new GrpcWorkerClient()) {
      worker.stallAfterFirst = true;
      Heard open = new Heard();
      GenerateCall call = client.generate(worker.address(), request("r", 5), open, null, 16);
      await().atMost(5, TimeUnit.SECONDS).until(() -> open.events.contains("t0"));
      client.forget(worker.address());
      Thread.sleep(200);
      assertThat(open.end).as("the open call is not failed").isNotDone();
      assertThat(worker.generateStreamsEnded.get()).isZero();
      call.request(4); // credit still reaches the worker
      call.cancel("client cancelled");
      await().atMost(5, TimeUnit.SECONDS).until(() -> worker.cancelled.get() == 1);
      await().atMost(5, TimeUnit.SECONDS).until(() -> worker.generateStreamsEnded.get() == 1);
      worker.stallAfterFirst = false;
      Heard later = new Heard();
      client.generate(worker.address(), request("later", 1), later, null, 16);
      assertThat(later.ending()).isEqualTo("final");
      assertThat(worker.generateStreams.get()).as("a new stream").isEqualTo(2);
    }
  }

  @Test
  void aWorkerWithoutGenerateStreamFailsItsCallsAsUnavailableNamingTheMissingMethod()
      throws Exception {
    try (FakeWorker worker = new FakeWorker("w");
        GrpcWorkerClient client = new GrpcWorkerClient()) {
      worker.servesGenerateStream = false;
      for (int i = 0; i < 3; i++) {
        Heard h = new Heard();
        client.generate(worker.address(), request("r" + i, 2), h, null, 16);
        assertThat(h.ending()).isEqualTo("UNAVAILABLE");
        assertThat(h.error.getDescription()).contains("UNIMPLEMENTED").contains("GenerateStream");
      }
      assertThat(worker.generated).isEmpty();
    }
  }
}
