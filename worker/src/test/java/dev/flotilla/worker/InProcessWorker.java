package dev.flotilla.worker;

import static org.awaitility.Awaitility.await;

import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.worker.config.WorkerSettings;
import dev.flotilla.worker.fetch.Fetcher;
import dev.flotilla.worker.runtime.WorkerHolder;
import dev.flotilla.worker.runtime.WorkerRuntime;
import dev.flotilla.worker.service.StatsPublisher;
import dev.flotilla.worker.service.WorkerGrpcService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

/**
 * A worker on the tiny test model behind an in-process gRPC server: the real engine through JNI,
 * the real service, no Quarkus. Each instance has its own settings, scheduler and metrics.
 */
public final class InProcessWorker implements AutoCloseable {
  private static final java.util.concurrent.atomic.AtomicInteger COUNTER =
      new java.util.concurrent.atomic.AtomicInteger();

  public final WorkerRuntime runtime;
  public final WorkerHolder holder;
  public final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
  public final WorkerGrpc.WorkerBlockingStub blocking;
  public final WorkerGrpc.WorkerStub async;
  private final StatsPublisher stats;
  private final Server server;
  private final ManagedChannel channel;

  public InProcessWorker(WorkerSettings settings) throws Exception {
    this(settings, TestFetchers.offline());
  }

  /** A worker whose LoadAdapter fetches downloaded sources with {@code fetcher}. */
  public InProcessWorker(WorkerSettings settings, Fetcher fetcher) throws Exception {
    TestLogs.quiet();
    runtime = WorkerRuntime.start(settings, metrics);
    holder = WorkerHolder.serving(runtime);
    stats = new StatsPublisher(holder);
    String name = "worker-" + COUNTER.incrementAndGet();
    server =
        InProcessServerBuilder.forName(name)
            .addService(new WorkerGrpcService(holder, stats, fetcher))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).build();
    blocking = WorkerGrpc.newBlockingStub(channel);
    async = WorkerGrpc.newStub(channel);
  }

  /**
   * Settings for the tiny model: every test adapter known, a 16 MiB KV budget, one engine thread
   * (the tiny model gains nothing from more on two shared cores).
   */
  public static WorkerSettings settings() {
    return WorkerSettings.forModel(TestModels.ensure())
        .withModelName("tiny")
        .withAdapters(TestModels.ADAPTERS)
        .withKvCacheBytes(16L << 20)
        .withThreads(1)
        .withDrainGrace(Duration.ofSeconds(30));
  }

  public static InProcessWorker start() throws Exception {
    return new InProcessWorker(settings());
  }

  /** The tiny model's worker, fetching downloaded adapter sources with {@code fetcher}. */
  public static InProcessWorker start(Fetcher fetcher) throws Exception {
    return new InProcessWorker(settings(), fetcher);
  }

  /** What one Generate call returned. */
  /**
   * @param announcedPromptTokens the prompt length the first tokens message carried; -1 before it
   */
  public record Result(
      List<Integer> tokens,
      String text,
      int chunks,
      WorkerFinal fin,
      Status error,
      int announcedPromptTokens) {
    public boolean ok() {
      return error == null && fin != null;
    }
  }

  public static WorkerGenerateRequest greedy(String adapter, List<Integer> prompt, int maxTokens) {
    return WorkerGenerateRequest.newBuilder()
        .setRequestId("t")
        .setAdapter(adapter == null ? "" : adapter)
        .setPromptTokenIds(TokenIds.newBuilder().addAllIds(prompt))
        .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens))
        .build();
  }

  /** A prompt of {@code n} deterministic token ids starting with BOS. */
  public static List<Integer> prompt(int n, int seed) {
    List<Integer> ids = new ArrayList<>();
    ids.add(256);
    IntStream.range(1, n).forEach(i -> ids.add(Math.floorMod(seed * 7919 + i * 104729, 1024)));
    return ids;
  }

  /** Runs a Generate call to its end through the blocking stub. */
  public Result generate(WorkerGenerateRequest request) {
    List<Integer> tokens = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    int chunks = 0;
    int announced = -1;
    try {
      Iterator<WorkerGenerateResponse> it =
          blocking.withDeadlineAfter(120, TimeUnit.SECONDS).generate(request);
      WorkerFinal fin = null;
      while (it.hasNext()) {
        WorkerGenerateResponse r = it.next();
        if (r.hasTokens() && chunks == 0) {
          announced = r.getPromptTokens();
        }
        if (r.hasTokens()) {
          chunks++;
          tokens.addAll(r.getTokens().getTokenIdsList());
          text.append(r.getTokens().getText());
        } else {
          fin = r.getFinal();
        }
      }
      return new Result(tokens, text.toString(), chunks, fin, null, announced);
    } catch (io.grpc.StatusRuntimeException e) {
      return new Result(tokens, text.toString(), chunks, null, e.getStatus(), announced);
    }
  }

  /** Starts a Generate call; the future completes with its result. */
  public CompletableFuture<Result> generateAsync(WorkerGenerateRequest request) {
    CompletableFuture<Result> done = new CompletableFuture<>();
    List<Integer> tokens = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    int[] chunks = {0};
    WorkerFinal[] fin = {null};
    int[] announced = {-1};
    async
        .withDeadlineAfter(120, TimeUnit.SECONDS)
        .generate(
            request,
            new StreamObserver<>() {
              @Override
              public synchronized void onNext(WorkerGenerateResponse r) {
                if (r.hasTokens() && chunks[0] == 0) {
                  announced[0] = r.getPromptTokens();
                }
                if (r.hasTokens()) {
                  chunks[0]++;
                  tokens.addAll(r.getTokens().getTokenIdsList());
                  text.append(r.getTokens().getText());
                } else {
                  fin[0] = r.getFinal();
                }
              }

              @Override
              public synchronized void onError(Throwable t) {
                done.complete(
                    new Result(
                        tokens,
                        text.toString(),
                        chunks[0],
                        null,
                        Status.fromThrowable(t),
                        announced[0]));
              }

              @Override
              public synchronized void onCompleted() {
                done.complete(
                    new Result(tokens, text.toString(), chunks[0], fin[0], null, announced[0]));
              }
            });
    return done;
  }

  /** The first Stats message; the stream is cancelled after it. */
  public WorkerStats stats() {
    io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
    try {
      return ctx.call(
          () ->
              blocking
                  .withDeadlineAfter(30, TimeUnit.SECONDS)
                  .stats(StatsRequest.newBuilder().build())
                  .next());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    } finally {
      ctx.cancel(null);
    }
  }

  /**
   * Stats once nothing runs or waits. A client gets its final response inside the step that
   * finishes the sequence and Stats are published after that step, so a test starting right after
   * another may otherwise read blocks the previous test's sequence still held.
   */
  public WorkerStats idleStats() {
    return await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(10))
        .until(this::stats, s -> s.getRunningSequences() == 0 && s.getQueueDepth() == 0);
  }

  public static boolean finishedWith(Result r, FinishReason reason) {
    return r.ok() && r.fin().getFinishReason() == reason;
  }

  @Override
  public void close() throws Exception {
    channel.shutdownNow();
    server.shutdownNow();
    channel.awaitTermination(10, TimeUnit.SECONDS);
    server.awaitTermination(10, TimeUnit.SECONDS);
    stats.close();
    runtime.close();
  }
}
