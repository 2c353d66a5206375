package dev.flotilla.gateway.worker;

import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.LoadAdapterResponse;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.WorkerEmbedRequest;
import dev.flotilla.api.worker.v1.WorkerEmbedResponse;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.workerlink.GenerateCall;
import dev.flotilla.workerlink.GenerateListener;
import dev.flotilla.workerlink.GenerateSession;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * {@link WorkerClient} over grpc-java: one HTTP/2 channel per worker endpoint ({@link
 * WorkerChannels}: mutual TLS in a cluster), and on it one {@link GenerateSession} that carries all
 * Generate calls to that worker.
 *
 * <p>Generate callbacks reach the listener on the transport thread that decoded them, in stream
 * order: a token is then forwarded to the client without a hop through an executor and back (two
 * thread handoffs per token on a small machine). Listeners must not block; finishing a request
 * hands its one blocking step, the usage event's fsync, to the usage recorder.
 */
public final class GrpcWorkerClient implements WorkerClient {
  private final WorkerChannels opener;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Map<String, GenerateSession> sessions = new ConcurrentHashMap<>();

  /** Enforces deadlines of Generate calls, whose shared stream has none. */
  private final ScheduledThreadPoolExecutor deadlines =
      new ScheduledThreadPoolExecutor(
          1,
          r -> {
            Thread t = new Thread(r, "flotilla-worker-deadlines");
            t.setDaemon(true);
            return t;
          });

  /** Plaintext channels, for tests and fake workers. */
  public GrpcWorkerClient() {
    this(WorkerChannels.plaintext());
  }

  public GrpcWorkerClient(WorkerChannels opener) {
    this.opener = opener;
    deadlines.setRemoveOnCancelPolicy(true); // a finished call's timer goes at once
  }

  private ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, opener::open);
  }

  /**
   * Worker calls never inherit the caller's Context: a dispatch can run on the thread of another
   * request's cancellation handler, whose cancelled Context would cancel this call at once. The
   * client's deadline is propagated explicitly instead.
   */
  private static <T> T detached(java.util.function.Supplier<T> body) {
    Context previous = Context.ROOT.attach();
    try {
      return body.get();
    } finally {
      Context.ROOT.detach(previous);
    }
  }

  @Override
  public GenerateCall generate(
      String address,
      WorkerGenerateRequest request,
      GenerateListener listener,
      Deadline deadline,
      int initialMessages) {
    return detached(
        () -> {
          // A session found ended (it broke a moment ago) is replaced once.
          for (int attempt = 0; attempt < 2; attempt++) {
            GenerateSession session = session(address);
            GenerateCall call = session.start(request, listener, deadline, initialMessages);
            if (call != null) {
              return call;
            }
            sessions.remove(address, session);
          }
          listener.onError(
              Status.UNAVAILABLE.withDescription(
                  "the generate stream to " + address + " ended as it opened, twice"));
          return NO_CALL;
        });
  }

  /** A call that never started: nothing to credit or cancel. */
  private static final GenerateCall NO_CALL =
      new GenerateCall() {
        @Override
        public void request(int messages) {}

        @Override
        public void cancel(String reason) {}
      };

  /**
   * The endpoint's session, opened if there is none. Not with computeIfAbsent: a stream that fails
   * as it opens (a channel shut down a moment ago) tells its end listener at once, on this thread,
   * and that listener updates the map.
   */
  private GenerateSession session(String address) {
    GenerateSession session = sessions.get(address);
    if (session != null) {
      return session;
    }
    GenerateSession fresh =
        GenerateSession.open(channel(address), deadlines, ended -> sessions.remove(address, ended));
    session = sessions.putIfAbsent(address, fresh);
    if (session == null) {
      return fresh;
    }
    fresh.close(); // another thread opened one first
    return session;
  }

  @Override
  public CompletableFuture<LoadAdapterResponse> loadAdapter(
      String address, LoadAdapterRequest request) {
    return detached(() -> startLoadAdapter(address, request));
  }

  private CompletableFuture<LoadAdapterResponse> startLoadAdapter(
      String address, LoadAdapterRequest request) {
    CompletableFuture<LoadAdapterResponse> f = new CompletableFuture<>();
    WorkerGrpc.newStub(channel(address))
        .loadAdapter(
            request,
            new StreamObserver<>() {
              @Override
              public void onNext(LoadAdapterResponse r) {
                f.complete(r);
              }

              @Override
              public void onError(Throwable t) {
                f.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {
                f.completeExceptionally(new IllegalStateException("LoadAdapter returned nothing"));
              }
            });
    return f;
  }

  @Override
  public CompletableFuture<WorkerEmbedResponse> embed(
      String address, WorkerEmbedRequest request, Deadline deadline) {
    return detached(
        () -> {
          CompletableFuture<WorkerEmbedResponse> f = new CompletableFuture<>();
          WorkerGrpc.WorkerStub stub = WorkerGrpc.newStub(channel(address));
          if (deadline != null) {
            stub = stub.withDeadline(deadline);
          }
          stub.embed(
              request,
              new ClientResponseObserver<WorkerEmbedRequest, WorkerEmbedResponse>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<WorkerEmbedRequest> call) {
                  f.whenComplete(
                      (r, e) -> {
                        if (f.isCancelled()) {
                          call.cancel("the request ended", null);
                        }
                      });
                }

                @Override
                public void onNext(WorkerEmbedResponse r) {
                  f.complete(r);
                }

                @Override
                public void onError(Throwable t) {
                  f.completeExceptionally(t);
                }

                @Override
                public void onCompleted() {
                  f.completeExceptionally(new IllegalStateException("Embed returned nothing"));
                }
              });
          return f;
        });
  }

  @Override
  public AutoCloseable watchStats(
      String address, int intervalMs, Consumer<WorkerStats> onStats, Consumer<Status> onEnd) {
    return detached(() -> startWatch(address, intervalMs, onStats, onEnd));
  }

  private AutoCloseable startWatch(
      String address, int intervalMs, Consumer<WorkerStats> onStats, Consumer<Status> onEnd) {
    CompletableFuture<ClientCallStreamObserver<StatsRequest>> started = new CompletableFuture<>();
    WorkerGrpc.newStub(channel(address))
        .stats(
            StatsRequest.newBuilder().setIntervalMs(intervalMs).build(),
            new ClientResponseObserver<StatsRequest, WorkerStats>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<StatsRequest> call) {
                started.complete(call);
              }

              @Override
              public void onNext(WorkerStats s) {
                onStats.accept(s);
              }

              @Override
              public void onError(Throwable t) {
                onEnd.accept(Status.fromThrowable(t));
              }

              @Override
              public void onCompleted() {
                onEnd.accept(Status.UNAVAILABLE.withDescription("stats stream completed"));
              }
            });
    ClientCallStreamObserver<StatsRequest> call = started.join();
    return () -> call.cancel("no longer watched", null);
  }

  @Override
  public void forget(String address) {
    GenerateSession session = sessions.remove(address);
    if (session != null) {
      session.retire(); // calls still running there (a draining worker) finish
    }
    ManagedChannel c = channels.remove(address);
    if (c != null) {
      c.shutdown();
    }
  }

  @Override
  public void close() {
    sessions.values().forEach(GenerateSession::close);
    sessions.clear();
    deadlines.shutdownNow();
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
      try {
        c.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    channels.clear();
  }
}
