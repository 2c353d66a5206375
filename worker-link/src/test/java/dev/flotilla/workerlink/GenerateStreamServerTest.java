package dev.flotilla.workerlink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.worker.v1.CallCancel;
import dev.flotilla.api.worker.v1.CallCredit;
import dev.flotilla.api.worker.v1.CallCredits;
import dev.flotilla.api.worker.v1.CallEvent;
import dev.flotilla.api.worker.v1.CallStart;
import dev.flotilla.api.worker.v1.GenerateStreamRequest;
import dev.flotilla.api.worker.v1.GenerateStreamResponse;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link GenerateStreamServer}: many Generate calls over one stream, over in-process gRPC. */
class GenerateStreamServerTest {

  /**
   * Generate that sends {@code max_tokens} token messages while its call is ready (resuming from
   * the ready handler, as the worker does), then its final message; a prompt "fail" fails it.
   */
  static final class PacedWorker extends WorkerGrpc.WorkerImplBase {
    final Set<String> cancelled = ConcurrentHashMap.newKeySet();
    final Map<String, StreamObserver<WorkerGenerateResponse>> held = new ConcurrentHashMap<>();
    volatile Executor flushExecutor;

    @Override
    public void generate(
        WorkerGenerateRequest request, StreamObserver<WorkerGenerateResponse> out) {
      if (request.getPrompt().equals("fail")) {
        out.onError(Status.NOT_FOUND.withDescription("no adapter x").asRuntimeException());
        return;
      }
      ServerCallStreamObserver<WorkerGenerateResponse> call =
          (ServerCallStreamObserver<WorkerGenerateResponse>) out;
      call.setOnCancelHandler(() -> cancelled.add(request.getRequestId()));
      if (request.getPrompt().equals("hold")) {
        held.put(request.getRequestId(), out);
        return;
      }
      int[] sent = {0};
      Runnable pump =
          () -> {
            synchronized (sent) {
              while (sent[0] < request.getSampling().getMaxTokens() && call.isReady()) {
                out.onNext(
                    WorkerGenerateResponse.newBuilder()
                        .setTokens(
                            TokenChunk.newBuilder()
                                .setText(request.getRequestId() + ":" + sent[0])
                                .addTokenIds(sent[0]))
                        .build());
                sent[0]++;
              }
              if (sent[0] == request.getSampling().getMaxTokens()) {
                sent[0]++;
                out.onNext(
                    WorkerGenerateResponse.newBuilder()
                        .setFinal(WorkerFinal.newBuilder().setTotalMs(7))
                        .build());
                out.onCompleted();
              }
            }
          };
      call.setOnReadyHandler(pump);
      pump.run();
    }

    @Override
    public StreamObserver<GenerateStreamRequest> generateStream(
        StreamObserver<GenerateStreamResponse> out) {
      return GenerateStreamServer.serve(out, this::generate, flushExecutor);
    }
  }

  /** A client end of one GenerateStream. */
  static final class Stream
      implements ClientResponseObserver<GenerateStreamRequest, GenerateStreamResponse> {
    final BlockingQueue<GenerateStreamResponse> responses = new LinkedBlockingQueue<>();
    final CountDownLatch ended = new CountDownLatch(1);
    ClientCallStreamObserver<GenerateStreamRequest> requests;

    Stream(ManagedChannel channel) {
      WorkerGrpc.newStub(channel).generateStream(this);
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<GenerateStreamRequest> call) {
      requests = call;
    }

    @Override
    public void onNext(GenerateStreamResponse r) {
      responses.add(r);
    }

    @Override
    public void onError(Throwable t) {
      ended.countDown();
    }

    @Override
    public void onCompleted() {
      ended.countDown();
    }

    void start(long id, String requestId, String prompt, int maxTokens, int credit) {
      requests.onNext(
          GenerateStreamRequest.newBuilder()
              .setStart(
                  CallStart.newBuilder()
                      .setCallId(id)
                      .setInitialCredit(credit)
                      .setRequest(
                          WorkerGenerateRequest.newBuilder()
                              .setRequestId(requestId)
                              .setPrompt(prompt)
                              .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens))))
              .build());
    }

    void credit(long id, int messages) {
      requests.onNext(
          GenerateStreamRequest.newBuilder()
              .setCredits(
                  CallCredits.newBuilder()
                      .addCredits(CallCredit.newBuilder().setCallId(id).setMessages(messages)))
              .build());
    }

    void cancel(long id) {
      requests.onNext(
          GenerateStreamRequest.newBuilder()
              .setCancel(CallCancel.newBuilder().setCallId(id).setReason("test"))
              .build());
    }

    /** Events until {@code count} have arrived (or 5 s passed). */
    List<CallEvent> events(int count) throws InterruptedException {
      return events(count, 5000);
    }

    List<CallEvent> events(int count, long waitMs) throws InterruptedException {
      List<CallEvent> events = new ArrayList<>();
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
      while (events.size() < count && System.nanoTime() < end) {
        GenerateStreamResponse r = responses.poll(50, TimeUnit.MILLISECONDS);
        if (r != null) {
          events.addAll(r.getEventsList());
        }
      }
      return events;
    }
  }

  /** Waits up to 5 s for {@code condition}; fails the test past that. */
  private static void waitUntil(BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waited 5 s").isLessThan(end);
      Thread.sleep(5);
    }
  }

  private final PacedWorker worker = new PacedWorker();
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void startServer() throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).addService(worker).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  @AfterEach
  void stopServer() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static List<String> texts(List<CallEvent> events, long id) {
    List<String> texts = new ArrayList<>();
    for (CallEvent e : events) {
      if (e.getCallId() == id) {
        texts.add(
            e.hasError()
                ? "error " + Status.fromCodeValue(e.getError().getCode()).getCode()
                : e.getResponse().hasFinal() ? "final" : e.getResponse().getTokens().getText());
      }
    }
    return texts;
  }

  @Test
  void callsOnOneStreamEachGetTheirOwnMessagesInOrder() throws Exception {
    Stream s = new Stream(channel);
    s.start(1, "a", "p", 3, 16);
    s.start(2, "b", "p", 2, 16);
    s.start(3, "c", "fail", 2, 16);
    List<CallEvent> events = s.events(4 + 3 + 1);
    assertThat(texts(events, 1)).containsExactly("a:0", "a:1", "a:2", "final");
    assertThat(texts(events, 2)).containsExactly("b:0", "b:1", "final");
    assertThat(texts(events, 3)).containsExactly("error NOT_FOUND");
    assertThat(
            events.stream()
                .filter(e -> e.getCallId() == 3)
                .findFirst()
                .orElseThrow()
                .getError()
                .getMessage())
        .isEqualTo("no adapter x");
  }

  @Test
  void aCallSendsNoMoreTokenMessagesThanItsCredit() throws Exception {
    Stream s = new Stream(channel);
    s.start(1, "a", "p", 5, 2);
    assertThat(texts(s.events(2), 1)).containsExactly("a:0", "a:1");
    assertThat(s.events(1, 300)).as("no credit, no third message").isEmpty();
    s.credit(1, 2);
    assertThat(texts(s.events(2), 1)).containsExactly("a:2", "a:3");
    s.credit(1, 1);
    assertThat(texts(s.events(2), 1))
        .as("the final message needs no credit")
        .containsExactly("a:4", "final");
  }

  @Test
  void cancellingACallRunsItsCancelHandlerAndEndingTheStreamCancelsTheRest() throws Exception {
    Stream s = new Stream(channel);
    s.start(1, "a", "hold", 1, 4);
    s.start(2, "b", "hold", 1, 4);
    s.start(3, "c", "hold", 1, 4);
    waitUntil(() -> worker.held.size() == 3);
    s.cancel(2);
    waitUntil(() -> worker.cancelled.contains("b"));
    assertThat(worker.cancelled).containsExactly("b");
    // A write after the cancel fails as a cancelled grpc call's would, and sends nothing.
    assertThatThrownBy(
            () ->
                worker
                    .held
                    .get("b")
                    .onNext(
                        WorkerGenerateResponse.newBuilder()
                            .setTokens(TokenChunk.newBuilder().setText("x"))
                            .build()))
        .hasMessageContaining("CANCELLED");
    s.requests.cancel("gateway gone", null);
    waitUntil(() -> worker.cancelled.size() == 3);
    assertThat(worker.cancelled).containsExactlyInAnyOrder("a", "b", "c");
    assertThat(s.responses).isEmpty();
  }

  @Test
  void aCallThatEndsWithoutAFinalMessageIsAnError() throws Exception {
    Stream s = new Stream(channel);
    s.start(1, "a", "hold", 1, 4);
    s.start(1, "dup", "p", 1, 4);
    s.start(2, "b", "p", 1, 0);
    List<CallEvent> refused = s.events(2);
    assertThat(texts(refused, 1))
        .as("a reused id is refused")
        .containsExactly("error INVALID_ARGUMENT");
    assertThat(texts(refused, 2)).as("no credit").containsExactly("error INVALID_ARGUMENT");
    worker.held.get("a").onCompleted();
    List<CallEvent> events = s.events(1);
    assertThat(texts(events, 1))
        .as("the open call went on, and ends as an error")
        .containsExactly("error INTERNAL");
  }

  @Test
  void messagesWrittenBeforeTheFlushTaskRunsLeaveInOneResponse() throws Exception {
    ConcurrentLinkedQueue<Runnable> loop = new ConcurrentLinkedQueue<>();
    worker.flushExecutor = loop::add;
    Stream s = new Stream(channel);
    s.start(1, "a", "hold", 1, 4);
    s.start(2, "b", "hold", 1, 4);
    waitUntil(() -> worker.held.size() == 2);
    for (String id : List.of("a", "b", "a")) {
      worker
          .held
          .get(id)
          .onNext(
              WorkerGenerateResponse.newBuilder()
                  .setTokens(TokenChunk.newBuilder().setText(id))
                  .build());
    }
    assertThat(loop).as("one flush task for the three messages").hasSize(1);
    assertThat(s.responses).isEmpty();
    loop.poll().run();
    GenerateStreamResponse r = s.responses.poll(5, TimeUnit.SECONDS);
    assertThat(r).isNotNull();
    assertThat(texts(r.getEventsList(), 1)).containsExactly("a", "a");
    assertThat(texts(r.getEventsList(), 2)).containsExactly("b");
  }

  @Test
  void aBatchPastItsLimitLeavesAtOnceAndTheRestWithTheFlushTask() throws Exception {
    ConcurrentLinkedQueue<Runnable> loop = new ConcurrentLinkedQueue<>();
    worker.flushExecutor = loop::add;
    Stream s = new Stream(channel);
    s.start(1, "a", "hold", 1, 4);
    waitUntil(() -> !worker.held.isEmpty());
    int n = GenerateStreamServer.MAX_EVENTS_PER_RESPONSE + 6;
    for (int i = 0; i < n; i++) {
      worker
          .held
          .get("a")
          .onNext(
              WorkerGenerateResponse.newBuilder()
                  .setTokens(TokenChunk.newBuilder().setText("t" + i))
                  .build());
    }
    GenerateStreamResponse full = s.responses.poll(5, TimeUnit.SECONDS);
    assertThat(full).as("sent without waiting for the flush task").isNotNull();
    assertThat(full.getEventsCount()).isEqualTo(GenerateStreamServer.MAX_EVENTS_PER_RESPONSE);
    // The rest leaves with flush tasks; events still on their way to the stream when one runs go
    // with the next, so run them until all six have come, in order.
    List<String> rest = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (rest.size() < 6 && System.nanoTime() < deadline) {
      for (Runnable task = loop.poll(); task != null; task = loop.poll()) {
        task.run();
      }
      GenerateStreamResponse r = s.responses.poll(50, TimeUnit.MILLISECONDS);
      if (r != null) {
        rest.addAll(texts(r.getEventsList(), 1));
      }
    }
    assertThat(rest).containsExactly("t1024", "t1025", "t1026", "t1027", "t1028", "t1029");
  }
}
