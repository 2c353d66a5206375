package dev.flotilla.worker.service;

import static dev.flotilla.worker.InProcessWorker.greedy;
import static dev.flotilla.worker.InProcessWorker.prompt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.worker.v1.CallCredit;
import dev.flotilla.api.worker.v1.CallCredits;
import dev.flotilla.api.worker.v1.CallEvent;
import dev.flotilla.api.worker.v1.CallStart;
import dev.flotilla.api.worker.v1.GenerateStreamRequest;
import dev.flotilla.api.worker.v1.GenerateStreamResponse;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.worker.InProcessWorker;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code GenerateStream} on the tiny generated model through the real engine: calls multiplexed on
 * one stream, each with one message of credit at a time, produce what each produces alone; and
 * ending the stream frees its sequences.
 */
class GenerateStreamIT {
  static InProcessWorker worker;

  @BeforeAll
  static void start() throws Exception {
    worker = InProcessWorker.start();
  }

  @AfterAll
  static void stop() throws Exception {
    worker.close();
  }

  /** A client end of one GenerateStream that hands back one message of credit per message. */
  static final class Stream
      implements ClientResponseObserver<GenerateStreamRequest, GenerateStreamResponse> {
    final Map<Long, List<Integer>> tokens = new ConcurrentHashMap<>();
    final Map<Long, WorkerFinal> finals = new ConcurrentHashMap<>();
    final Map<Long, String> errors = new ConcurrentHashMap<>();
    final CountDownLatch ended;
    final CountDownLatch firstTokens;
    ClientCallStreamObserver<GenerateStreamRequest> requests;

    Stream(int calls) {
      ended = new CountDownLatch(calls);
      firstTokens = new CountDownLatch(calls);
      worker.async.generateStream(this);
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<GenerateStreamRequest> call) {
      requests = call;
    }

    synchronized void start(long id, WorkerGenerateRequest request) {
      requests.onNext(
          GenerateStreamRequest.newBuilder()
              .setStart(
                  CallStart.newBuilder().setCallId(id).setRequest(request).setInitialCredit(1))
              .build());
    }

    @Override
    public synchronized void onNext(GenerateStreamResponse response) {
      for (CallEvent e : response.getEventsList()) {
        long id = e.getCallId();
        if (e.hasError()) {
          errors.put(id, e.getError().getCode() + " " + e.getError().getMessage());
          ended.countDown();
        } else if (e.getResponse().hasFinal()) {
          finals.put(id, e.getResponse().getFinal());
          ended.countDown();
        } else {
          List<Integer> ids = tokens.computeIfAbsent(id, k -> new ArrayList<>());
          if (ids.isEmpty()) {
            firstTokens.countDown();
          }
          ids.addAll(e.getResponse().getTokens().getTokenIdsList());
          requests.onNext(
              GenerateStreamRequest.newBuilder()
                  .setCredits(
                      CallCredits.newBuilder()
                          .addCredits(CallCredit.newBuilder().setCallId(id).setMessages(1)))
                  .build());
        }
      }
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

  @Test
  void callsOnOneStreamWithOneMessageOfCreditEachProduceWhatTheyProduceAlone() throws Exception {
    List<WorkerGenerateRequest> requests = WorkerGrpcIT.mixedRequests(16);
    Stream stream = new Stream(requests.size());
    for (int i = 0; i < requests.size(); i++) {
      stream.start(i + 1, requests.get(i));
    }
    assertThat(stream.ended.await(120, TimeUnit.SECONDS)).isTrue();
    stream.requests.onCompleted();
    assertThat(stream.errors).isEmpty();
    for (int i = 0; i < requests.size(); i++) {
      WorkerGenerateRequest r = requests.get(i);
      InProcessWorker.Result alone = worker.generate(r);
      assertThat(stream.tokens.get(i + 1L))
          .as("call %d", i + 1)
          .containsExactlyElementsOf(alone.tokens());
      assertThat(stream.finals.get(i + 1L).getUsage().getCompletionTokens())
          .isEqualTo(alone.tokens().size());
    }
  }

  @Test
  void aCallWithANonFiniteTemperatureIsRefusedByNameAndTheStreamGoesOn() throws Exception {
    WorkerGenerateRequest ok = greedy(null, prompt(6, 1), 4);
    Stream stream = new Stream(3);
    stream.start(
        1,
        ok.toBuilder().setSampling(ok.getSampling().toBuilder().setTemperature(Float.NaN)).build());
    stream.start(
        2,
        ok.toBuilder()
            .setSampling(ok.getSampling().toBuilder().setTemperature(Float.POSITIVE_INFINITY))
            .build());
    stream.start(3, ok);
    assertThat(stream.ended.await(60, TimeUnit.SECONDS)).isTrue();
    stream.requests.onCompleted();
    for (long id : new long[] {1, 2}) {
      assertThat(stream.errors.get(id))
          .as("call %d", id)
          .startsWith(Status.Code.INVALID_ARGUMENT.value() + " ")
          .contains("temperature must be a finite number");
    }
    assertThat(stream.finals.get(3L).getUsage().getCompletionTokens()).isEqualTo(4);
  }

  @Test
  void endingTheStreamFreesItsSequences() throws Exception {
    WorkerStats idle = worker.idleStats();
    Stream stream = new Stream(3);
    for (int i = 0; i < 3; i++) {
      stream.start(i + 1, greedy(null, prompt(8, i), 500));
    }
    assertThat(stream.firstTokens.await(30, TimeUnit.SECONDS)).isTrue();
    stream.requests.cancel("gateway gone", null);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              WorkerStats s = worker.stats();
              assertThat(s.getRunningSequences()).isZero();
              assertThat(s.getQueueDepth()).isZero();
              assertThat(s.getFreeKvBlocks()).isEqualTo(idle.getFreeKvBlocks());
            });
    assertThat(stream.finals).as("cancelled, not finished").isEmpty();
  }
}
